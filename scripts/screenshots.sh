#!/bin/sh
# Makes the dashboard's screenshots in docs/img/ (dashboard-overview.png,
# dashboard-target.png, dashboard-crashes.png, dashboard-bucket.png).
#
# The test that checks the dashboard in Chromium builds a state as three days of a
# campaign leave it (a crashing target with 300 findings in two bugs, one fixed and one
# regressed, and a gap between runs; a quiet target; targets never run; each target's
# last and average rate, the schedule's shares and the crashing target's strategies;
# written through the store as the campaign writes it), starts `fuzzfleet serve` on it and, with FUZZFLEET_SCREENSHOTS set, has
# headless Chromium save each page there. Needs chromium (apt install chromium).
#
#   scripts/screenshots.sh [DIR]      # default: docs/img
set -eu

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${1:-$ROOT/docs/img}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
cd "$ROOT"
# FUZZFLEET_CI: a missing chromium fails instead of skipping.
FUZZFLEET_CI=1 FUZZFLEET_SCREENSHOTS="$DIR" cargo test -p fuzzfleet --test serve \
    a_campaigns_history_is_drawn_with_axes_one_marker_per_bug_and_true_totals \
    -- --exact --nocapture
ls -l "$DIR"/dashboard-*.png
