-- Offline operation and fallback printing (see ream_wire::offline).

-- What a queue's jobs do while a workstation cannot reach the server.
ALTER TABLE queues ADD COLUMN offline_policy TEXT NOT NULL DEFAULT 'hold';
-- The user may pick a printer of their own spooler, or type one.
ALTER TABLE queues ADD COLUMN offline_pick BIGINT NOT NULL DEFAULT 0;
ALTER TABLE queues ADD COLUMN offline_after_seconds BIGINT NOT NULL DEFAULT 30;

CREATE TABLE queue_fallback_printers (
    queue_id TEXT NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    printer_id TEXT NOT NULL REFERENCES printers (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    PRIMARY KEY (queue_id, printer_id)
);

-- How much a user may print offline before the client stops offering it; NULL: no limit.
ALTER TABLE users ADD COLUMN offline_pages BIGINT;
ALTER TABLE users ADD COLUMN offline_cents BIGINT;
ALTER TABLE user_groups ADD COLUMN offline_pages BIGINT;
ALTER TABLE user_groups ADD COLUMN offline_cents BIGINT;

-- A job printed offline: the workstation that reported it, the journal entry that told
-- of it, whether it is charged at all, the printer it printed on when the server does not
-- know that printer, and whether its charge took the credit below zero.
ALTER TABLE jobs ADD COLUMN offline_workstation TEXT;
ALTER TABLE jobs ADD COLUMN offline_unaccounted BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN offline_printer TEXT;
ALTER TABLE jobs ADD COLUMN offline_overdrawn BIGINT NOT NULL DEFAULT 0;

-- Every journal entry taken, once (by its id).
CREATE TABLE journal_entries (
    id TEXT PRIMARY KEY,
    workstation_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    job_id TEXT,
    -- 0 when the entry did not follow the one before (entries missing or edited and
    -- signed again): administrators look.
    chained BIGINT NOT NULL,
    received_at_ms BIGINT NOT NULL
);

-- The last entry taken from each workstation: the next must follow it.
CREATE TABLE journal_heads (
    workstation_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE journal_refusals (
    id TEXT PRIMARY KEY,
    workstation_id TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    reason TEXT NOT NULL,
    entry TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX journal_refusals_at ON journal_refusals (at_ms);
