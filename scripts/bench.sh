#!/usr/bin/env bash
# Runs the standard load benchmarks against a release-built zone that this
# script starts itself (one fresh zone per scenario, on free ports), and
# writes every loadgen report (JSON) plus a markdown summary.
#
#   scripts/bench.sh [--duration S] [--long-duration S] [--out DIR]
#                    [--only NAME[,NAME...]] [--sweep] [--no-build] [--threads N]
#                    [--set SECTION:KEY=VALUE]...   (extra zone settings)
#                    [--external HOST:PORT --external-pid PID]
#
# Scenarios (all at 10 Hz):
#   asss40   40 bots, one arena (the ASSS comparison)
#   b50      50 bots, one arena
#   b200     200 bots, one arena
#   b400     400 bots, one arena
#   b1000    1000 bots over 20 arenas (--long-duration, default 300 s)
# --sweep runs the load sweep instead: b4, asss40, b100, b200, b400 (one
# arena each), the latency bound checked at every load.
#
# --external measures another server (ASSS, say) already listening on
# HOST:PORT with process PID (CPU from /proc) instead of starting ours;
# restart it between scenarios yourself if it keeps state.
#
# --duration is the measurement window of the one-arena runs (default 30 s).
# Results go to DIR (default target/bench/<date>): <scenario>.json, the
# zone's stats after each run (<scenario>.after.json: realms then idle),
# the zone's log, and summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=30
long_duration=300
out=""
only=""
build=1
threads=""
extra_sets=()
sweep=0
external=""
external_pid=""
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) duration="$2"; shift 2 ;;
        --long-duration) long_duration="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --only) only="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        --threads) threads="$2"; shift 2 ;;
        --set) extra_sets+=(--set "$2"); shift 2 ;;
        --sweep) sweep=1; shift ;;
        --external) external="$2"; shift 2 ;;
        --external-pid) external_pid="$2"; shift 2 ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

target="${CARGO_TARGET_DIR:-target}"
bin="$target/release"
if [ "$build" = 1 ]; then
    cargo build --release --workspace --bins
fi
for b in zone-supervisor realm-worker loadgen; do
    [ -x "$bin/$b" ] || { echo "missing $bin/$b (build with cargo build --release --workspace --bins)" >&2; exit 1; }
done
out="${out:-$target/bench/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"

zone_pid=""
stop_zone() {
    if [ -n "$zone_pid" ]; then
        kill -TERM "$zone_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$zone_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$zone_pid" 2>/dev/null || true
        wait "$zone_pid" 2>/dev/null || true
        zone_pid=""
    fi
}
trap stop_zone EXIT

# start_zone NAME: starts a zone, sets game and control.
start_zone() {
    local name="$1"
    local ctl="$out/$name.control.sock"
    rm -f "$ctl"
    NO_COLOR=1 "$bin/zone-supervisor" run --bind 127.0.0.1 --port 0 \
        --control "$ctl" --worker "$bin/realm-worker" \
        --set Net:MaxConnections=4000 --set Net:MaxPendingConnections=1000 \
        --set General:MaxPlaying=0 --set "Persist:DatabasePath=$out/$name.db" \
        "${extra_sets[@]}" \
        >"$out/$name.zone.out" 2>"$out/$name.zone.log" &
    zone_pid=$!
    local line=""
    for _ in $(seq 1 100); do
        line=$(grep -m1 '^zone listening' "$out/$name.zone.out" 2>/dev/null || true)
        [ -n "$line" ] && break
        kill -0 "$zone_pid" 2>/dev/null || { cat "$out/$name.zone.log" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$line" ] || { echo "the zone did not start" >&2; exit 1; }
    game=$(sed -n 's/.*game=\([^ ]*\).*/\1/p' <<<"$line")
    control=$(sed -n 's/.*control=\([^ ]*\).*/\1/p' <<<"$line")
}

# scenario NAME BOTS ARENAS DURATION
scenario() {
    local name="$1" bots="$2" arenas="$3" secs="$4"
    if [ -n "$only" ] && [[ ",$only," != *",$name,"* ]]; then
        return
    fi
    echo "== $name: $bots bots, $arenas arena(s), 10 Hz, ${secs}s" >&2
    local extra=()
    [ -n "$threads" ] && extra+=(--threads "$threads")
    # More than 100 bots need a second load generator thread, as the ASSS
    # figures were taken (--threads 2 at 200 bots).
    [ -z "$threads" ] && [ "$bots" -gt 100 ] && extra+=(--threads 2)
    if [ -n "$external" ]; then
        "$bin/loadgen" --bots "$bots" --arenas "$arenas" --rate 10 --duration "$secs" \
            --server "$external" ${external_pid:+--supervisor-pid "$external_pid"} \
            --json "${extra[@]}" >"$out/$name.json"
        return
    fi
    start_zone "$name"
    # The progress lines (one a second, with the hypervisor's steal) are
    # kept beside the report: scripts/steal-buckets.sh reads them.
    "$bin/loadgen" --bots "$bots" --arenas "$arenas" --rate 10 --duration "$secs" \
        --server "$game" --control "$control" --json "${extra[@]}" >"$out/$name.json" \
        2> >(tee "$out/$name.progress" >&2)
    # The realms after the bots left (idle, until Realms:IdleStopMillis).
    sleep 2
    "$bin/zone-supervisor" stats --json --control "$control" >"$out/$name.after.json" || true
    stop_zone
}

if [ "$sweep" = 1 ]; then
    scenario b4 4 1 "$duration"
    scenario asss40 40 1 "$duration"
    scenario b100 100 1 "$duration"
    scenario b200 200 1 "$duration"
    scenario b400 400 1 "$duration"
else
    scenario asss40 40 1 "$duration"
    scenario b50 50 1 "$duration"
    scenario b200 200 1 "$duration"
    scenario b400 400 1 "$duration"
    scenario b1000 1000 20 "$long_duration"
fi

reports=()
for f in "$out"/*.json; do
    case "$f" in *.after.json) ;; *) reports+=("$f") ;; esac
done
{
    echo "# Subsumption load benchmarks"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "- machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(free -m | awk '/^Mem:/{print $2}') MiB, $(uname -sr)"
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
    echo "- command: scripts/bench.sh --duration $duration --long-duration $long_duration${only:+ --only $only}$([ "$sweep" = 1 ] && echo ' --sweep')${external:+ --external $external}"
    echo
    "$bin/loadgen" --summarize "${reports[@]}"
} >"$out/summary.md"
cat "$out/summary.md"
echo "results in $out" >&2
