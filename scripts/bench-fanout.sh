#!/usr/bin/env bash
# Regenerates the fan-out table of BENCHMARKS.md with `pubnub-bench`
# (release build, embedded dev server in-process). Prints a Markdown table;
# pass extra pubnub-bench options as arguments (e.g. `--size 1024`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --features bench-cli --bin pubnub-bench >&2
bench=target/release/pubnub-bench
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

rows=(
  "1→1|--subscribers 1 --messages 20000"
  "1→100|--subscribers 100 --messages 2000"
  "1→1,000|--subscribers 1000 --messages 500"
  "1→1,000 shared client|--subscribers 1000 --messages 500 --shared-client"
  "10 ch × 100 separate|--channels 10 --subscribers 1000 --messages 2000"
  "10 ch × 100 shared client|--channels 10 --subscribers 1000 --messages 2000 --shared-client"
)
echo "| run | command | published | delivered | lost | dup | out of order | publish msg/s | delivery msg/s | MB/s | p50 µs | p99 µs | p99.9 µs | max µs | client CPU s | server CPU s | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for row in "${rows[@]}"; do
  name=${row%%|*}
  args=${row#*|}
  # shellcheck disable=SC2086
  csv=$("$bench" pubsub $args --csv "$@" 2>/dev/null)
  python3 - "$name" "$args" "$csv" <<'PY'
import csv, io, sys
name, args, text = sys.argv[1], sys.argv[2], sys.argv[3]
r = next(csv.DictReader(io.StringIO(text)))
cols = ["published", "delivered", "lost", "duplicates", "out_of_order", "publish_msgs_per_sec",
        "msgs_per_sec", "mb_per_sec", "p50", "p99", "p999", "max", "client_cpu_secs",
        "server_cpu_secs", "peak_rss_mib"]
print("| " + " | ".join([name, f"`{args}`"] + [r[c] for c in cols]) + " |")
PY
done
