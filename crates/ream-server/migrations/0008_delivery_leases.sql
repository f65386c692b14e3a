-- Delivery by lease (printing/delivery.rs): which instance delivers a job in `printing`,
-- the token of that instance's run, and until when it holds the job. Another instance
-- takes the job only once the lease has run out; every write of a deliverer names its
-- token, so one that lost its lease changes nothing. Portable SQL, as 0001.
ALTER TABLE jobs ADD COLUMN delivery_instance TEXT;
ALTER TABLE jobs ADD COLUMN delivery_token TEXT;
ALTER TABLE jobs ADD COLUMN lease_until_ms BIGINT;
