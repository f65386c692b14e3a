-- Local print monitoring (see ream_wire::local). Portable SQL, as 0001.

-- The administrator's policy, one row.
CREATE TABLE local_monitoring (
    id BIGINT PRIMARY KEY,
    enabled BIGINT NOT NULL DEFAULT 0,
    -- JSON array of CUPS queue names; empty: every local queue.
    queues TEXT NOT NULL DEFAULT '[]',
    offline TEXT NOT NULL DEFAULT 'refuse',
    charge_by TEXT NOT NULL DEFAULT 'document',
    price_list_id TEXT REFERENCES price_lists (id) ON DELETE SET NULL
);
INSERT INTO local_monitoring (id) VALUES (1);

-- Each workstation's CUPS queue Ream has seen a job on: `queue@workstation`.
CREATE TABLE local_printers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    workstation_id TEXT NOT NULL,
    cups_queue TEXT NOT NULL,
    device_uri TEXT NOT NULL,
    price_list_id TEXT REFERENCES price_lists (id) ON DELETE SET NULL,
    first_job_at_ms BIGINT NOT NULL
);

-- Local jobs belong to this queue, which no listing shows (it is born deleted, as a
-- deleted queue that jobs still name): the jobs' history shows their local printer.
INSERT INTO queues (id, name, detection, accounting, project_accounting, spooling, release_mode, confirm_cost,
    created_at_ms, deleted_at_ms, deleted_name)
    VALUES ('local', 'local', 'session', 'credit', 0, 'client', 'direct', 0, 0, 0, 'Local printers');

ALTER TABLE jobs ADD COLUMN local_printer_id TEXT REFERENCES local_printers (id);
CREATE UNIQUE INDEX local_printers_queue ON local_printers (workstation_id, cups_queue);
