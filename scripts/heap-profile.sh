#!/usr/bin/env bash
# Where vcms-server's memory lives under SIP load (issue 18): heaptrack on a release build
# with the C library's malloc (feature system-alloc; mimalloc would hide allocations from
# heaptrack), 10,000 accounts registered once and then REGISTERs at 5,000/s for CALLS more.
# Prints heaptrack_print's summary (peak heap, top allocation sites at the peak); the raw
# profile stays in the printed directory.
#
# Usage: scripts/heap-profile.sh          Settings: CALLS (default 50000)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/sip-bench-lib.sh
install_tools
command -v heaptrack >/dev/null || { echo "heaptrack is required (apt-get install heaptrack)" >&2; exit 1; }
CALLS="${CALLS:-50000}"
USERS=10000
cargo build --release -q -p vcms-server --bins --features system-alloc
out=$(mktemp -d /tmp/vcms-heap.XXXX)
cp target/release/vcms-server "$out/vcms-server-sysalloc"
cargo build --release -q -p vcms-server --bins
echo "raw results: $out" >&2
cp tests/sipp/register_auth.xml "$out/"
port=$(free_port)
# The fill (accounts, users.csv) with the regular build, then the profiled server on its data.
start_vcms sqlite "$port"
kill "$pid"; wait "$pid" 2>/dev/null || true
http=$(free_port)
VCMS_DATA_DIR="$dir" VCMS_DATABASE_URL="$url" VCMS_HTTP_LISTEN="127.0.0.1:$http" VCMS_LOG=warn \
  VCMS_CAPTCHA=off VCMS_SIP_UDP="127.0.0.1:$port" VCMS_SIP_TCP="127.0.0.1:$port" VCMS_SIP_TLS=off \
  heaptrack -o "$out/heap" "$out/vcms-server-sysalloc" serve >"$out/heaptrack.log" 2>&1 &
hpid=$!
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.2; done
sipp_run() { # calls rate
  (cd "$out" && sipp "127.0.0.1:$port" -sf register_auth.xml -inf "$out/users.csv" -key domain vcms.local \
    -t u1 -i 127.0.0.1 -m "$1" -r "$2" -l 1000 -nostdin -timeout 300s >/dev/null 2>&1 || true)
}
sipp_run "$USERS" 5000
sipp_run "$CALLS" 5000
sleep 2
server=$(pgrep -P "$hpid" -f vcms-server-sysalloc || true)
kill -TERM ${server:-$hpid} 2>/dev/null || true
wait "$hpid" 2>/dev/null || true
profile=$(ls "$out"/heap* 2>/dev/null | grep -E "\.(zst|gz)$" | head -1 || true)
heaptrack_print -f "$profile" --print-peaks 1 --print-allocators 0 --print-temporary 0 \
  --peak-limit 12 --sub-peak-limit 3 |
  tee "$out/summary.txt"
