-- A queue an administrator deletes while finished jobs still name it stays, for their
-- history only: `deleted_name` keeps its name for them, `name` takes the row's id so
-- that the name is free for a new queue, and nothing but those jobs sees it. A queue no
-- job ever named is deleted outright. Portable SQL, as 0001.
ALTER TABLE queues ADD COLUMN deleted_at_ms BIGINT;
ALTER TABLE queues ADD COLUMN deleted_name TEXT;
