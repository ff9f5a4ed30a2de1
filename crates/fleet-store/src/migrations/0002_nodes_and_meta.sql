-- Schema version 2: which node found a finding (NULL: this one), and small
-- named documents the campaign keeps for status (e.g. the hub's state).

ALTER TABLE findings ADD COLUMN node TEXT;

CREATE TABLE meta (
    key        TEXT PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
