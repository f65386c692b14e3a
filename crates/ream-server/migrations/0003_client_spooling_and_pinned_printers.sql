-- Printers on IPPS are trusted by the SHA-256 fingerprint of their certificate,
-- recorded when they are added.
ALTER TABLE printers ADD COLUMN tls_fingerprint TEXT;

-- A client-spooled job's document stays on the workstation client that printed it
-- (`holder`, the client's own id) until it is released.
ALTER TABLE jobs ADD COLUMN holder TEXT;

-- The printer's newest job id just before the document was sent. A job resumed after
-- the server stopped between sending and recording the printer's job id is looked for
-- among the printer's newer jobs before it is sent again.
ALTER TABLE jobs ADD COLUMN printer_job_floor BIGINT;
