#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 60) and
# prints, per target, the executions, coverage and findings (crash, leak,
# timeout and out-of-memory inputs written under fuzz/artifacts/<target>/).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Environment:
#   FUZZ_JOBS=N        targets run at once (default 1; the machine has 2 cores)
#   FUZZ_SANITIZER=S   address (default) or none
#
# cargo fuzz needs nightly-only rustc flags; on the stable toolchain it runs
# with RUSTC_BOOTSTRAP=1. This is a script, not part of CI (see FUZZING.md).
# Logs: fuzz/logs/<target>.log; one line per run appended to
# fuzz/logs/runs.tsv. Exits non-zero if any target found something.
set -euo pipefail

secs=${1:-60}
shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"
san=${FUZZ_SANITIZER:-address}
jobs=${FUZZ_JOBS:-1}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz
fi

mapfile -t all < <(cargo fuzz list)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

echo "building ${#targets[@]} targets (sanitizer: $san)" >&2
cargo fuzz build -O -s "$san" >&2
cargo run -q --example seeds >&2 ||
    echo "warning: the seed corpus could not be written; using the existing corpus" >&2
mkdir -p logs

max_len() {
    case "$1" in
        transport_server | conf_parse | map_lvl | ipc_frames) echo 16384 ;;
        *) echo 4096 ;;
    esac
}

findings() {
    local dir="artifacts/$1"
    [ -d "$dir" ] || { echo 0; return; }
    find "$dir" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) -newer "logs/$1.start" | wc -l
}

run_one() {
    local t=$1 log="logs/$1.log" status
    touch "logs/$t.start"
    if cargo fuzz run -O -s "$san" "$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$(max_len "$t")" -print_final_stats=1 >"$log" 2>&1; then
        status=ok
    else
        status="exit $?"
    fi
    local execs cov found
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    found=$(findings "$t")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$secs" \
        "${execs:-?}" "${cov:-?}" "$found" "$status" | tee -a logs/runs.tsv logs/last.tsv
}

: >logs/last.tsv
printf 'finished\ttarget\tseconds\texecutions\tcoverage\tfindings\tstatus\n'
for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    run_one "$t" &
done
wait

bad=$(awk -F'\t' '$6 > 0 || $7 != "ok"' logs/last.tsv | wc -l)
if [ "$bad" -gt 0 ]; then
    echo "findings: see fuzz/artifacts/ and fuzz/logs/" >&2
    exit 1
fi
echo "no findings" >&2
