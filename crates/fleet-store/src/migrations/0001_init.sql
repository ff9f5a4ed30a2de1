-- fuzzfleet state, schema version 1.
-- Times are Unix milliseconds (UTC); the API and JSON render RFC 3339.

CREATE TABLE targets (
    name                 TEXT PRIMARY KEY,
    state                TEXT NOT NULL DEFAULT 'idle',  -- idle | starting | running | failed
    message              TEXT,                          -- why a target failed, in the engine's words
    workers              INTEGER NOT NULL DEFAULT 0,
    execs                INTEGER NOT NULL DEFAULT 0,    -- cumulative over every worker run
    execs_per_sec        REAL    NOT NULL DEFAULT 0,
    coverage             INTEGER,
    features             INTEGER,
    corpus_files         INTEGER NOT NULL DEFAULT 0,
    corpus_bytes         INTEGER NOT NULL DEFAULT 0,
    rss_mb               INTEGER,
    last_new_coverage_at INTEGER,
    fuzz_ms              INTEGER NOT NULL DEFAULT 0,    -- worker time inside libFuzzer's loop
    slot_ms              INTEGER NOT NULL DEFAULT 0,    -- worker slot time assigned to the target
    restarts             INTEGER NOT NULL DEFAULT 0,
    updated_at           INTEGER NOT NULL
);

CREATE TABLE findings (
    id          INTEGER PRIMARY KEY,
    target      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,          -- crash | leak | timeout | oom | slow
    sha1        TEXT    NOT NULL,
    input_path  TEXT    NOT NULL,
    report_path TEXT,
    size_bytes  INTEGER NOT NULL,
    count       INTEGER NOT NULL DEFAULT 1, -- times this exact input was found
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    UNIQUE (target, kind, sha1)
);

-- Stats history. span_s is the sample's resolution: raw samples are 10 s,
-- older ones are folded into 300 s and then 3600 s rows (see compact_samples).
CREATE TABLE samples (
    target        TEXT    NOT NULL,
    ts            INTEGER NOT NULL,
    span_s        INTEGER NOT NULL,
    workers       INTEGER NOT NULL,
    execs         INTEGER NOT NULL,
    execs_per_sec REAL    NOT NULL,
    coverage      INTEGER,
    features      INTEGER,
    corpus_files  INTEGER,
    corpus_bytes  INTEGER,
    rss_mb        INTEGER,
    PRIMARY KEY (target, span_s, ts)
) WITHOUT ROWID;

-- The campaign's position per tier, as versioned JSON owned by the scheduler.
CREATE TABLE schedule (
    tier       TEXT PRIMARY KEY,
    state      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Things that happened: worker restarts, failures, set-aside seeds.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    ts      INTEGER NOT NULL,
    target  TEXT,
    kind    TEXT    NOT NULL,
    message TEXT    NOT NULL
);
CREATE INDEX events_ts ON events (ts);
