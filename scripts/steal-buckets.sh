#!/usr/bin/env bash
# Groups the seconds of a load run by how much of the machine's CPU time
# the hypervisor stole in them, and prints the relay latency of each group.
#
#   scripts/steal-buckets.sh target/bench/<run>/b1000.progress
#
# Reads loadgen's progress lines (stderr; scripts/bench.sh keeps them as
# NAME.progress). On a shared virtual machine a stretch of high steal
# stalls the zone and the load generator alike; this shows how much of a
# run's tail latency came from such stretches.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 FILE.progress..." >&2; exit 2; }
# Progress lines that also give the p99 at the bots' sockets (kernel
# arrival stamps: the zone's share, without loadgen's own delays) add that
# column; older ones show "–" there.
cat "$@" | grep ' run   \]' | sed -E \
    -e 's/.*p50 ([0-9.]+) p99 ([0-9.]+) max ([0-9.]+) ms \(at socket p99 ([0-9.]+)\).*steal ([0-9]+)%.*/\1 \2 \3 \5 \4/' \
    -e 's/.*p50 ([0-9.]+) p99 ([0-9.]+) max ([0-9.]+) ms.*steal ([0-9]+)%.*/\1 \2 \3 \4 -/' |
awk '
    NF == 5 {
        b = ($4 < 3) ? "1: under 3 %" : ($4 < 10) ? "2: 3-10 %" : ($4 < 25) ? "3: 10-25 %" : "4: 25 % and more"
        n[b]++; p50[b] += $1; p99[b] += $2; if ($2 <= 25) ok[b]++; if ($3 > mx[b]) mx[b] = $3
        if ($5 != "-") { ns[b]++; sock[b] += $5 }
    }
    END {
        print "| steal in the second | seconds | mean p50 ms | mean p99 ms | mean p99 at socket ms | seconds with p99 <= 25 ms | max ms |"
        print "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        split("1: under 3 %,2: 3-10 %,3: 10-25 %,4: 25 % and more", order, ",")
        for (i = 1; i <= 4; i++) {
            k = order[i]
            if (!(k in n)) continue
            s = (k in ns) ? sprintf("%.1f", sock[k] / ns[k]) : "–"
            printf "| %s | %d | %.1f | %.1f | %s | %d | %.0f |\n", substr(k, 4), n[k], p50[k] / n[k], p99[k] / n[k], s, ok[k] + 0, mx[k]
        }
    }'
