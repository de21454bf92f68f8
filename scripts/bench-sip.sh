#!/usr/bin/env bash
# SIP registration speed (issue 5): REGISTER -> 401 -> REGISTER with digest -> 200, driven by
# SIPp over UDP and TCP on loopback with 10,000 accounts, against vcms-server (release build;
# SQLite, and PostgreSQL with `postgres`) and against Kamailio (auth_db + usrloc write-back
# db_mode=2 + registrar, SQLite; scripts/kamailio/kamailio.cfg).
#
# Usage: scripts/bench-sip.sh [vcms-sqlite] [vcms-postgres] [kamailio]   (default: all three)
# Settings (environment): CALLS (the capacity run, default 240000: with the first pass and
# the latency run, 300,000 registrations of the 10,000 accounts), RATE (offered calls/s
# for the capacity run, default 40000), LIMIT (calls in flight, default 1000), LAT_RATE (the
# fixed rate of the latency run, default 5000), LAT_CALLS (default 50000), TRANSPORTS
# (default "u1 t1": SIPp's single-socket UDP and TCP), USERS (accounts registered, default
# 10000). SIPp's socket buffers are 4 MiB (-buff_size): with its default (64 KiB) it dropped
# bursts of answers and counted the retransmissions against the server. Results: one table row per target,
# transport and run on stdout; the raw SIPp files stay in the printed directory.
#
# Method, per target and transport: a fresh server; a first pass registers the 10,000 users
# once (10,000 bindings), the server's memory (PSS, summed over Kamailio's processes) is
# read before and after and scaled to 100,000 bindings; then the capacity run offers RATE
# calls/s with at most LIMIT in flight, so the server runs flat out, and the latency run
# offers LAT_RATE calls/s. Each registration is a whole call (REGISTER, 401, REGISTER,
# 200); reg/s = successful calls / elapsed; p50/p99 = SIPp's response time 1 (first
# REGISTER sent to 200 received, -trace_rtt); CPU = the server's utime+stime over the run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

. scripts/sip-bench-lib.sh
install_tools

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(vcms-sqlite vcms-postgres kamailio)
CALLS="${CALLS:-240000}"
RATE="${RATE:-40000}"
LIMIT="${LIMIT:-1000}"
LAT_RATE="${LAT_RATE:-5000}"
LAT_CALLS="${LAT_CALLS:-50000}"
TRANSPORTS="${TRANSPORTS:-u1 t1}"
USERS="${USERS:-10000}"
HZ=$(getconf CLK_TCK)

cargo build --release -q -p vcms-server --bins
out=$(mktemp -d /tmp/vcms-bench-sip.XXXX)
echo "raw results: $out" >&2
cp tests/sipp/register_auth.xml "$out/"
ulimit -n 65536 2>/dev/null || true

# run_sipp NAME PORT TRANSPORT CALLS RATE LIMIT: runs SIPp in $out, prints
# "ok elapsed_s p50_ms p99_ms sipp_cpu_s failed"
run_sipp() {
  local name=$1 port=$2 t=$3 calls=$4 rate=$5 limit=$6
  local dir="$out/$name"
  mkdir -p "$dir"
  (
    cd "$dir"
    cp "$out/register_auth.xml" .
    TIMEFORMAT='%U %S'
    { time $PIN_LOAD sipp "127.0.0.1:$port" -sf register_auth.xml -inf "$out/users.csv" -key domain vcms.local \
        -t "$t" -i 127.0.0.1 -m "$calls" -r "$rate" -l "$limit" -nostdin -max_socket 1000 -buff_size 4194304 \
        -timeout 300s -trace_stat -stf stat.csv -fd 1 -trace_rtt -rtt_freq 1000 \
        -trace_err -error_file err.log >sipp.out 2>&1 || true; } 2>time.txt
  )
  local stat="$dir/stat.csv"
  local col_ok col_fail
  col_ok=$(head -1 "$stat" | tr ';' '\n' | grep -nx 'SuccessfulCall(C)' | cut -d: -f1)
  col_fail=$(head -1 "$stat" | tr ';' '\n' | grep -nx 'FailedCall(C)' | cut -d: -f1)
  local last ok fail secs
  last=$(tail -1 "$stat")
  ok=$(echo "$last" | cut -d';' -f"$col_ok")
  fail=$(echo "$last" | cut -d';' -f"$col_fail")
  # StartTime and CurrentTime end in epoch seconds with microseconds.
  secs=$(echo "$last" | awk -F';' '{n=split($1,a,"\t"); m=split($3,b,"\t"); printf "%.2f", b[m]-a[n]}')
  local rtt
  rtt=$(ls "$dir"/*_rtt.csv 2>/dev/null | head -1)
  local p50=- p99=-
  if [ -n "$rtt" ]; then
    read -r p50 p99 < <(awk -F';' 'NR>1 && $3==1 {print $2}' "$rtt" | sort -n |
      awk '{v[NR]=$1} END {if (NR == 0) {print "- -"; exit} i=int(NR*0.5); if (i < 1) i=1; j=int(NR*0.99); if (j < 1) j=1; print v[i], v[j]}')
  fi
  local sc
  sc=$(awk '{printf "%.1f", $1+$2}' "$dir/time.txt")
  echo "$ok $secs $p50 $p99 $sc $fail"
}

# measure LABEL PID PORT TRANSPORT: warm-up (memory), capacity run, latency run.
measure() {
  local label=$1 pid=$2 port=$3 t=$4
  local tname=UDP
  [ "$t" = t1 ] && tname=TCP
  local m0 m1 c0 c1 r
  sleep 1
  m0=$(pss_kib "$pid")
  r=$(run_sipp "$label-$t-warm" "$port" "$t" "$USERS" 5000 "$LIMIT")
  read -r ok _ _ _ _ fail <<<"$r"
  sleep 1
  m1=$(pss_kib "$pid")
  local per100k=$(( (m1 - m0) * 100000 / USERS / 1024 ))
  echo "# $label $tname: first pass $ok registered, $fail failed; PSS $((m0/1024)) -> $((m1/1024)) MiB" >&2
  for run in capacity latency; do
    local calls=$CALLS rate=$RATE limit=$LIMIT
    if [ $run = latency ]; then calls=$LAT_CALLS; rate=$LAT_RATE; fi
    c0=$(cpu_ticks "$pid")
    r=$(run_sipp "$label-$t-$run" "$port" "$t" "$calls" "$rate" "$limit")
    c1=$(cpu_ticks "$pid")
    read -r ok secs p50 p99 sc fail <<<"$r"
    local cpu_s rps cpu_pct us_per
    cpu_s=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN{printf "%.1f", (b-a)/hz}')
    rps=$(awk -v n="$ok" -v s="$secs" 'BEGIN{printf "%.0f", (s>0)?n/s:0}')
    cpu_pct=$(awk -v c="$cpu_s" -v s="$secs" 'BEGIN{printf "%.0f", (s>0)?100*c/s:0}')
    us_per=$(awk -v c="$cpu_s" -v n="$ok" 'BEGIN{printf "%.0f", (n>0)?1e6*c/n:0}')
    echo "| $label | $tname | $run ($rate/s offered, ≤$limit in flight) | $ok/$((ok+fail)) | ${secs} s | **$rps** | $p50 | $p99 | $cpu_pct% ($us_per µs/reg) | $sc s | $per100k MiB |"
  done
  local m2 total=$((USERS + CALLS + LAT_CALLS))
  m2=$(pss_kib "$pid")
  echo "# $label $tname: PSS $((m1/1024)) MiB after the first $USERS registrations, $((m2/1024)) MiB after $total ($(awk -v a="$m1" -v b="$m2" 'BEGIN{printf "%.2f", b/a}')×)" >&2
  echo "# $label peak RSS (VmHWM, main process): $(( $(hwm_kib "$pid") / 1024 )) MiB" >&2
  # Transactions linger for their timers (UDP: 32 s), so memory is read again after them.
  sleep "${SETTLE:-35}"
  echo "# $label $tname: PSS $(( $(pss_kib "$pid") / 1024 )) MiB ${SETTLE:-35} s after the last run" >&2
}

echo "| target | transport | run | ok/calls | elapsed | reg/s | p50 ms | p99 ms | server CPU | SIPp CPU | PSS per 100k bindings |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
have_users=0
for target in "${targets[@]}"; do
  for t in $TRANSPORTS; do
    port=$(free_port)
    case $target in
      vcms-sqlite) start_vcms sqlite "$port"; have_users=1 ;;
      vcms-postgres) start_vcms postgres "$port"; have_users=1 ;;
      kamailio)
        if [ $have_users = 0 ]; then
          # The users come from a vcms fill (same numbers and passwords for both).
          start_vcms sqlite "$port"; kill "$pid"; wait "$pid" 2>/dev/null || true; have_users=1
        fi
        start_kamailio "$port" ;;
    esac
    measure "$target" "$pid" "$port" "$t"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if [ "$target" = vcms-postgres ]; then
      psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db" postgres || true
    fi
  done
done
