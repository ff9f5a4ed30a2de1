-- Schema version 4: source-based coverage of a target's corpus, one row per
-- computation (`fuzzfleet coverage`, or a campaign's scheduled recompute), so
-- line coverage can be shown over time next to libFuzzer's `cov:`.

CREATE TABLE coverage (
    id                INTEGER PRIMARY KEY,
    target            TEXT    NOT NULL,
    at_ms             INTEGER NOT NULL,
    lines_covered     INTEGER NOT NULL,
    lines_total       INTEGER NOT NULL,
    regions_covered   INTEGER NOT NULL,
    regions_total     INTEGER NOT NULL,
    functions_covered INTEGER NOT NULL,
    functions_total   INTEGER NOT NULL,
    inputs            INTEGER NOT NULL,
    -- What was measured: the coverage binary's identity (size and mtime).
    build_id          TEXT    NOT NULL
);

CREATE INDEX coverage_by_target ON coverage (target, at_ms);
