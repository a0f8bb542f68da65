#!/usr/bin/env bash
# The fault suite, ten times in a row: a flaky fault test shows here, not in one lucky run.
#
#     bench/fault_loop.sh [RUNS] [PER_RUN_TIMEOUT_SECONDS]     (defaults: 10, 900)
#
# Runs from the repository root, with .venv: tests/resilience/test_faults.py,
# tests/resilience/test_faults_under_load.py, and tests/resilience/test_webhook_spool.py,
# test_spool.py, test_click_spool.py and test_uniqueness_across_outages.py (same
# directory) where present; each iteration is one `pytest -q -p no:randomly <files>` (the same order
# every time), bounded by the timeout (then killed, counted as failed). Prints each
# iteration's result, the failed tests' names and the log's path, and at the end
# "N/RUNS iterations passed". Exit status 0 only if every iteration passed.
# Logs: $FAULT_LOOP_LOGS, else a new directory under /tmp (its path is printed).
set -u -o pipefail

runs=${1:-10}
per_run=${2:-900}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
pytest=.venv/bin/pytest
[ -x "$pytest" ] || { echo "no $pytest: make the venv first" >&2; exit 2; }

files=(tests/resilience/test_faults.py tests/resilience/test_faults_under_load.py)
for optional in tests/resilience/test_webhook_spool.py tests/resilience/test_spool.py \
    tests/resilience/test_click_spool.py tests/resilience/test_uniqueness_across_outages.py; do
    [ -f "$optional" ] && files+=("$optional")
done
logs=${FAULT_LOOP_LOGS:-$(mktemp -d /tmp/afftrack-fault-loop.XXXXXX)}
mkdir -p "$logs"
echo "fault loop: $runs runs of: ${files[*]}"
echo "logs: $logs"

passed=0
for ((i = 1; i <= runs; i++)); do
    log="$logs/run-$i.log"
    started=$(date +%s)
    # SIGINT on timeout: pytest stops as on Ctrl-C and still tears its fixtures down
    # (the throwaway servers and afftrack processes); killed 60 s later if it hangs.
    timeout -s INT -k 60 "$per_run" "$pytest" -q -p no:randomly -rf "${files[@]}" >"$log" 2>&1
    status=$?
    seconds=$(($(date +%s) - started))
    summary=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed|error)' "$log" | tail -1 | tr -d '=')
    if [ "$status" -eq 0 ]; then
        passed=$((passed + 1))
        printf 'run %2d/%d: pass  (%ss) %s\n' "$i" "$runs" "$seconds" "$summary"
    else
        [ "$status" -eq 124 ] && summary="timed out after ${per_run}s"
        printf 'run %2d/%d: FAIL  (%ss, exit %s) %s  log: %s\n' \
            "$i" "$runs" "$seconds" "$status" "$summary" "$log"
        grep -E '^(FAILED|ERROR) ' "$log" | sed 's/^/        /'
    fi
done
echo "$passed/$runs iterations passed"
[ "$passed" -eq "$runs" ]
