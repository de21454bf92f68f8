#!/usr/bin/env bash
# Account list speed at scale (issue 3). Usage: scripts/bench-accounts.sh sqlite|postgres
# Needs wrk (apt-get install wrk). Builds release binaries, starts vcms-server on a fresh
# database, fills it with vcms-bench (10 enterprises x 10,000 accounts through the HTTP batch
# path + 1,000 enterprises x 20), then measures GET /api/v1/accounts with wrk at 1 and 32
# connections for 10 s each.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
cargo build --release -q -p vcms-server --bins
dir=$(mktemp -d /tmp/vcms-bench.XXXX)
if [ "$backend" = postgres ]; then
  db="vcms_bench_$(date +%s)"
  psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db" postgres
  url="postgres://postgres@127.0.0.1:5432/$db"
else
  url="sqlite://$dir/vcms.db?mode=rwc"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
VCMS_DATA_DIR="$dir" VCMS_DATABASE_URL="$url" VCMS_HTTP_LISTEN="127.0.0.1:$port" VCMS_LOG=warn VCMS_CAPTCHA=off \
  target/release/vcms-server serve > "$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
out=$(target/release/vcms-bench --server "http://127.0.0.1:$port" --database-url "$url" --data-dir "$dir" --server-pid $pid)
echo "$out" | grep -v TOKEN
token=$(echo "$out" | sed -n 's/^TOKEN=//p')
if [ "$backend" = postgres ]; then
  # What autovacuum does within a minute of a bulk insert (visibility map, statistics), so
  # index-only scans are measured as they run in service.
  psql -q -h 127.0.0.1 -U postgres -c "VACUUM ANALYZE" "$db"
fi
base="http://127.0.0.1:$port/api/v1/accounts"
for name in "page 1|?page=1" "middle page (500 of 1000)|?page=500" "last page (1000)|?page=1000" "search @d42. (1%)|?search=%40d42." "search, sorted by name|?search=%40d42.&sort=name"; do
  label="${name%%|*}"; q="${name#*|}"
  for c in 1 32; do
    r=$(wrk -t$(( c < 2 ? 1 : 2 )) -c$c -d10s --latency -H "Authorization: Bearer $token" "$base$q" 2>&1)
    p50=$(echo "$r" | awk '/^ +50%/{print $2}')
    p99=$(echo "$r" | awk '/^ +99%/{print $2}')
    rps=$(echo "$r" | awk '/^Requests\/sec/{print $2}')
    echo "$backend | $label | $c | $p50 | $p99 | $rps"
  done
done
echo "server peak RSS after the load: $(awk '/VmHWM/{print $2" "$3}' /proc/$pid/status)"
