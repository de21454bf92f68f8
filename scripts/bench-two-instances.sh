#!/usr/bin/env bash
# One vcms-server against two on the same PostgreSQL database (issue 19): REGISTER/s with
# digest (SIPp, UDP) and the account page's time (GET /api/v1/accounts, 100 rows) while the
# registrations run. Both instances share the secret key; with two, SIPp sends half the
# users to each. On this 2-core machine nothing is pinned: the servers, PostgreSQL and SIPp
# share both cores, so the figures say how the shared database holds up, not a ceiling.
#
# Usage: scripts/bench-two-instances.sh     Settings: CALLS (default 100000), RATE (40000)
set -euo pipefail
cd "$(dirname "$0")/.."
PIN=0
. scripts/sip-bench-lib.sh
install_tools
CALLS="${CALLS:-100000}"
RATE="${RATE:-40000}"
USERS=10000
cargo build --release -q -p vcms-server --bins
out=$(mktemp -d /tmp/vcms-bench-two.XXXX)
echo "raw results: $out" >&2
cp tests/sipp/register_auth.xml "$out/"
ulimit -n 65536 2>/dev/null || true
db="vcms_two_$(date +%s)"
psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db" postgres
url="postgres://postgres@127.0.0.1:5432/$db"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; sleep 1; psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" postgres || true' EXIT

# start NAME -> prints "http_port sip_port" (data in $out/NAME, the secret key of $out/a)
start() {
  local name=$1 http sip
  http=$(free_port)
  sip=$(free_port)
  mkdir -p "$out/$name"
  [ "$name" = a ] || cp "$out/a/secret.key" "$out/$name/"
  VCMS_DATA_DIR="$out/$name" VCMS_DATABASE_URL="$url" VCMS_HTTP_LISTEN="127.0.0.1:$http" \
    VCMS_LOG=warn VCMS_CAPTCHA=off VCMS_SIP_UDP="127.0.0.1:$sip" VCMS_SIP_TCP=off VCMS_SIP_TLS=off \
    target/release/vcms-server serve >"$out/$name/server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.2; done
  echo "$http $sip"
}

read -r http_a sip_a < <(start a)
token=$(target/release/vcms-bench --server "http://127.0.0.1:$http_a" --database-url "$url" \
  --data-dir "$out/a" --big 1 --small 0 --sip-csv "$out/users.csv" --sip-users "$USERS" |
  sed -n 's/^TOKEN=//p')
psql -q -h 127.0.0.1 -U postgres -c "VACUUM ANALYZE" "$db"
read -r http_b sip_b < <(start b)
# Half the users for each instance (the file's first line is SIPp's SEQUENTIAL).
{ echo SEQUENTIAL; tail -n +2 "$out/users.csv" | awk 'NR % 2 == 1'; } >"$out/users-a.csv"
{ echo SEQUENTIAL; tail -n +2 "$out/users.csv" | awk 'NR % 2 == 0'; } >"$out/users-b.csv"

# sipp NAME PORT USERS_FILE CALLS RATE: runs in the background, stat file in $out/NAME.
sipp_run() {
  mkdir -p "$out/$1"
  (cd "$out/$1" && sipp "127.0.0.1:$2" -sf "$out/register_auth.xml" -inf "$3" -key domain vcms.local \
    -t u1 -i 127.0.0.1 -m "$4" -r "$5" -l 1000 -nostdin -max_socket 1000 -buff_size 4194304 \
    -timeout 300s -trace_stat -stf stat.csv >sipp.out 2>&1 || true)
}
# ok and elapsed seconds of a finished run.
result() {
  local stat="$out/$1/stat.csv" col last
  col=$(head -1 "$stat" | tr ';' '\n' | grep -nx 'SuccessfulCall(C)' | cut -d: -f1)
  last=$(tail -1 "$stat")
  echo "$(echo "$last" | cut -d';' -f"$col") $(echo "$last" | awk -F';' '{n=split($1,a,"\t"); m=split($3,b,"\t"); printf "%.2f", b[m]-a[n]}')"
}
# Median and p99 of 200 GET /api/v1/accounts (page 1, 100 rows) on PORT, in ms.
page_times() {
  for _ in $(seq 200); do
    curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" \
      "http://127.0.0.1:$1/api/v1/accounts?page=1&page_size=100"
  done | sort -n | awk '{v[NR]=$1*1000} END {printf "%.1f %.1f\n", v[int(NR*0.5)], v[int(NR*0.99)]}'
}

echo "| set-up | REGISTERs | elapsed | reg/s | account page p50 / p99 ms (during the load) |"
echo "|---|---|---|---|---|"
# The users register once first, so both runs refresh live bindings.
sipp_run warm "$sip_a" "$out/users.csv" "$USERS" 5000

sipp_run one "$sip_a" "$out/users.csv" "$CALLS" "$RATE" &
s1=$!
sleep 1
read -r p50 p99 < <(page_times "$http_a")
wait $s1
read -r ok secs < <(result one)
echo "| one instance | $ok | $secs s | **$(awk -v n="$ok" -v s="$secs" 'BEGIN{printf "%.0f", n/s}')** | $p50 / $p99 |"

sipp_run two-a "$sip_a" "$out/users-a.csv" $((CALLS / 2)) $((RATE / 2)) &
s1=$!
sipp_run two-b "$sip_b" "$out/users-b.csv" $((CALLS / 2)) $((RATE / 2)) &
s2=$!
sleep 1
read -r p50a p99a < <(page_times "$http_a")
read -r p50b p99b < <(page_times "$http_b")
wait $s1 $s2
read -r ok_a secs_a < <(result two-a)
read -r ok_b secs_b < <(result two-b)
ok=$((ok_a + ok_b))
secs=$(awk -v a="$secs_a" -v b="$secs_b" 'BEGIN{print (a>b)?a:b}')
echo "| two instances (A + B) | $ok | $secs s | **$(awk -v n="$ok" -v s="$secs" 'BEGIN{printf "%.0f", n/s}')** | A $p50a / $p99a, B $p50b / $p99b |"
