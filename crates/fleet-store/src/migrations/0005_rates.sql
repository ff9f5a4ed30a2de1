-- Schema version 5: rates that stay true across worker restarts and after a stop.
-- `execs_per_sec` in `targets` is the rate now (execs counted over wall time, whatever
-- the workers printed); this table keeps the last rate a running target had and the
-- average over the campaign run that last ran it, and reports lost before an artifact.

CREATE TABLE target_rates (
    name                TEXT    PRIMARY KEY,
    -- The rate at the last moment the target had workers (execs/s over wall time).
    last_execs_per_sec  REAL    NOT NULL DEFAULT 0,
    -- Execs of the last campaign run that ran the target, over the wall time it ran.
    avg_execs_per_sec   REAL    NOT NULL DEFAULT 0,
    -- Crash reports seen with no artifact after them (a worker cut off while writing).
    lost_findings       INTEGER NOT NULL DEFAULT 0,
    updated_at          INTEGER NOT NULL
);
