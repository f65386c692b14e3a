-- The ledger: what jobs that may still print hold against the accounts that pay for
-- them. Portable SQL, as 0001.

-- The sum of the user's credit reservations: what a new job may spend is
-- credit_cents - reserved_cents. Moved only together with `reservations`.
ALTER TABLE users ADD COLUMN reserved_cents BIGINT NOT NULL DEFAULT 0;
-- The same for a quota: a new job may use limit_value - used - reserved.
ALTER TABLE quotas ADD COLUMN reserved BIGINT NOT NULL DEFAULT 0;

-- One row per job and account it holds funds on: kind 'credit' (target: the user) or
-- 'quota' (target: the quota). A job holds them from the moment its paying account is
-- known until it is charged, deleted, rejected, expired or failed.
CREATE TABLE reservations (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (job_id, kind, target_id)
);

-- The id the client gave the job when it entered its local spool: a submission repeated
-- with it returns the job made the first time.
ALTER TABLE jobs ADD COLUMN client_job_id TEXT;
CREATE UNIQUE INDEX jobs_client_job_id ON jobs (owner_id, client_job_id);

-- Disk: how long a queue's jobs may wait before they expire (the server's held_hours
-- when NULL), and the size of each job's document on the server, which counts against
-- its owner's max_user_spool_bytes while it is kept.
ALTER TABLE queues ADD COLUMN held_hours BIGINT;
ALTER TABLE jobs ADD COLUMN spool_bytes BIGINT NOT NULL DEFAULT 0;

-- What the printer and, for a client-spooled job, the client that printed it counted
-- (job-impressions-completed), and how the server's check against the printer went
-- ('confirmed', 'mismatch', 'unverified'; see ream_wire::PrintCheck).
ALTER TABLE jobs ADD COLUMN impressions_reported BIGINT;
ALTER TABLE jobs ADD COLUMN impressions_at_printer BIGINT;
ALTER TABLE jobs ADD COLUMN print_check TEXT;

-- When the session's refresh token was last replaced: the replaced one is honoured once
-- more for a short while (security.refresh_retry_seconds), for a client whose answer to
-- the refresh was lost (killed, or its connection cut) before it could keep the new one.
ALTER TABLE sessions ADD COLUMN rotated_at_ms BIGINT;
