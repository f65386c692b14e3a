-- Printing: price lists, printers, queues and jobs. Portable SQL, as 0001.

CREATE TABLE price_lists (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    mono_page_cents BIGINT NOT NULL,
    colour_page_cents BIGINT NOT NULL,
    duplex_page_discount_cents BIGINT NOT NULL DEFAULT 0,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE printers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    uri TEXT NOT NULL,
    price_list_id TEXT NOT NULL REFERENCES price_lists (id),
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE queues (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    detection TEXT NOT NULL,
    accounting TEXT NOT NULL,
    project_accounting BIGINT NOT NULL DEFAULT 0,
    spooling TEXT NOT NULL,
    release_mode TEXT NOT NULL,
    -- Show the job's pages and price and ask the user to confirm before accepting it.
    confirm_cost BIGINT NOT NULL DEFAULT 0,
    -- A Rhai script run for each job (crate::script).
    script TEXT,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE queue_printers (
    queue_id TEXT NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    printer_id TEXT NOT NULL REFERENCES printers (id) ON DELETE CASCADE,
    PRIMARY KEY (queue_id, printer_id)
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    owner_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    queue_id TEXT NOT NULL REFERENCES queues (id),
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    pages BIGINT NOT NULL,
    copies BIGINT NOT NULL,
    colour BIGINT NOT NULL,
    duplex BIGINT NOT NULL,
    media TEXT NOT NULL,
    price_cents BIGINT NOT NULL,
    -- What pays (credit, quota, cost_centre) and which cost centre; chosen by the user
    -- in the job dialog, or automatically when there is one choice.
    account_kind TEXT,
    account_id TEXT REFERENCES shared_accounts (id) ON DELETE SET NULL,
    project_id TEXT REFERENCES shared_accounts (id) ON DELETE SET NULL,
    -- The owner's answers to the queue script's questions so far (JSON object).
    script_answers TEXT,
    -- Where the document waits on the server (server spooling), until printed or deleted.
    spool_file TEXT,
    printer_id TEXT REFERENCES printers (id) ON DELETE SET NULL,
    printer_job_id BIGINT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX jobs_owner ON jobs (owner_id, created_at_ms);
CREATE INDEX jobs_state ON jobs (state);
