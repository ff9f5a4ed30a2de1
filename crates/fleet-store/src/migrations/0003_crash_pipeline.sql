-- Schema version 3: the crash pipeline. Each finding is reproduced, given a signature
-- and routed to a bucket (one bug); a bucket keeps what the pipeline learned about it.

ALTER TABLE findings ADD COLUMN repro TEXT;       -- always | sometimes | never; NULL: pending
ALTER TABLE findings ADD COLUMN crash TEXT;       -- fleet_crash::Crash as JSON; NULL: not triaged
ALTER TABLE findings ADD COLUMN bucket TEXT;      -- its bucket under the current merge/split rules
ALTER TABLE findings ADD COLUMN build_id TEXT;    -- SHA-1 of the binary it was triaged against
ALTER TABLE findings ADD COLUMN dropped INTEGER NOT NULL DEFAULT 0; -- 1: input deleted, bucket full
CREATE INDEX findings_bucket ON findings (bucket);

CREATE TABLE buckets (
    id             TEXT PRIMARY KEY,
    target         TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    signature      TEXT    NOT NULL,
    title          TEXT    NOT NULL,
    severity       TEXT    NOT NULL,
    representative TEXT    NOT NULL,        -- SHA-1 of its smallest input
    data           TEXT    NOT NULL,        -- fleet_crash::Bucket as JSON (inputs, frames, members)
    minimized_path TEXT,
    minimized_of   TEXT,                    -- SHA-1 of the input minimized_path was made from
    state          TEXT    NOT NULL DEFAULT 'open', -- open | fixed | regressed
    state_build    TEXT,                    -- build id in which it was fixed or regressed
    state_at       INTEGER,
    tested_build   TEXT,                    -- last build id its representative ran against
    notified_at    INTEGER
);
