-- Printers on IPPS are trusted by the SHA-256 fingerprint of their certificate,
-- recorded when they are added.
ALTER TABLE printers ADD COLUMN tls_fingerprint TEXT;

-- A client-spooled job's document stays on the workstation client that printed it
-- (`holder`, the client's own id) until it is released.
ALTER TABLE jobs ADD COLUMN holder TEXT;

-- When the document was first sent to the printer: a job resumed after a crash that
-- has a start but no printer job id is looked for at the printer before it is sent again.
ALTER TABLE jobs ADD COLUMN delivery_started_at_ms BIGINT;
