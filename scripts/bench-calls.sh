#!/usr/bin/env bash
# Call setup through the proxy (issue 8): SIPp UAC -> proxy -> SIPp UAS on loopback, each
# call INVITE -> 407 -> ACK -> INVITE with Proxy-Authorization -> 100 -> 180 -> 200 -> ACK
# -> BYE -> 200 (tests/sipp/uac_call.xml, tests/sipp/uas_answer.xml), against vcms-server
# (release build, SQLite) and against Kamailio as a stateful proxy (tm + registrar lookup
# + auth_db + rr; scripts/kamailio/kamailio-proxy.cfg) with the same 10,000 subscribers.
#
# Usage: scripts/bench-calls.sh [vcms-sqlite] [kamailio]   (default: both)
# Settings (environment): CALLS (per run, default 20000), RATE (offered calls/s of the
# capacity run, default 4000), LIMIT (calls in flight, default 1000), LAT_RATE (the fixed
# rate of the latency run, default 500), LAT_CALLS (default 10000), TRANSPORTS (the UAC's:
# default "u1 t1"; the UAS answers over UDP).
#
# Method, per target and transport: a fresh server with 10,000 accounts; the callee's SIPp
# UAS registers (register_auth.xml) from the port it then answers on; the UAC calls the
# callee's cloud number as another account. calls/s = successful calls / elapsed; p50/p99 =
# SIPp's response time 1 (first INVITE sent to the 200, so including the 407 round trip and
# the UAS's 2 ms between 180 and 200; SIPp's socket buffers 4 MiB, -buff_size); CPU = the server's utime+stime while the UAC ran
# (Kamailio: all its processes), per second of the run and per call.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

. scripts/sip-bench-lib.sh
install_tools

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(vcms-sqlite kamailio)
CALLS="${CALLS:-20000}"
RATE="${RATE:-4000}"
LIMIT="${LIMIT:-1000}"
LAT_RATE="${LAT_RATE:-500}"
LAT_CALLS="${LAT_CALLS:-10000}"
TRANSPORTS="${TRANSPORTS:-u1 t1}"
USERS=10000
HZ=$(getconf CLK_TCK)

cargo build --release -q -p vcms-server --bins
out=$(mktemp -d /tmp/vcms-bench-calls.XXXX)
echo "raw results: $out" >&2
cp tests/sipp/register_auth.xml tests/sipp/uac_call.xml tests/sipp/uas_answer.xml "$out/"
ulimit -n 65536 2>/dev/null || true

# The caller is the first user, the callee the second.
callers() { { echo SEQUENTIAL; sed -n 2p "$out/users.csv"; } >"$out/caller.csv"; { echo SEQUENTIAL; sed -n 3p "$out/users.csv"; } >"$out/callee.csv"; }

# stat_of DIR: "ok fail elapsed_s p50 p99"
stat_of() {
  local dir=$1 stat="$1/stat.csv"
  local col_ok col_fail last
  col_ok=$(head -1 "$stat" | tr ';' '\n' | grep -nx 'SuccessfulCall(C)' | cut -d: -f1)
  col_fail=$(head -1 "$stat" | tr ';' '\n' | grep -nx 'FailedCall(C)' | cut -d: -f1)
  last=$(tail -1 "$stat")
  local ok fail secs
  ok=$(echo "$last" | cut -d';' -f"$col_ok")
  fail=$(echo "$last" | cut -d';' -f"$col_fail")
  secs=$(echo "$last" | awk -F';' '{n=split($1,a,"\t"); m=split($3,b,"\t"); printf "%.2f", b[m]-a[n]}')
  local rtt p50=- p99=-
  rtt=$(ls "$dir"/*_rtt.csv 2>/dev/null | head -1)
  if [ -n "$rtt" ]; then
    read -r p50 p99 < <(awk -F';' 'NR>1 && $3==1 {print $2}' "$rtt" | sort -n |
      awk '{v[NR]=$1} END {if (NR == 0) {print "- -"; exit} i=int(NR*0.5); if (i < 1) i=1; j=int(NR*0.99); if (j < 1) j=1; print v[i], v[j]}')
  fi
  echo "$ok $fail $secs $p50 $p99"
}

# run LABEL PORT TRANSPORT CALLS RATE: UAS + UAC; prints "ok fail elapsed p50 p99 cpu_s"
# (cpu_s: the server's CPU while the UAC ran)
run() {
  local name=$1 port=$2 t=$3 calls=$4 rate=$5
  local dir="$out/$name" uport
  mkdir -p "$dir"
  uport=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  (
    cd "$dir"
    $PIN_LOAD sipp "127.0.0.1:$port" -sf "$out/register_auth.xml" -inf "$out/callee.csv" -key domain vcms.local \
      -t u1 -i 127.0.0.1 -p "$uport" -m 1 -nostdin -timeout 20s >reg.out 2>&1
    $PIN_LOAD sipp -sf "$out/uas_answer.xml" -t u1 -i 127.0.0.1 -p "$uport" -nostdin -max_socket 1000 \
      -buff_size 4194304 -timeout 600s >uas.out 2>&1 &
    echo $! >uas.pid
    sleep 0.5
    cpu_ticks "$pid" >cpu0
    $PIN_LOAD sipp "127.0.0.1:$port" -sf "$out/uac_call.xml" -inf "$out/caller.csv" -s "$CALLEE" \
      -key domain vcms.local -t "$t" -i 127.0.0.1 -m "$calls" -r "$rate" -l "$LIMIT" -d 0 \
      -nostdin -max_socket 1000 -buff_size 4194304 -timeout 600s -trace_stat -stf stat.csv -fd 1 -trace_rtt \
      -rtt_freq 1000 -trace_err -error_file err.log >uac.out 2>&1 || true
    cpu_ticks "$pid" >cpu1
    kill "$(cat uas.pid)" 2>/dev/null || true
    wait 2>/dev/null || true
  )
  echo "$(stat_of "$dir") $(awk -v hz="$HZ" 'NR==FNR{a=$1; next} {printf "%.2f", ($1-a)/hz}' "$dir/cpu0" "$dir/cpu1")"
}

echo "| target | UAC transport | run | ok/calls | elapsed | calls/s | p50 ms | p99 ms | server CPU |"
echo "|---|---|---|---|---|---|---|---|---|"
have_users=0
for target in "${targets[@]}"; do
  for t in $TRANSPORTS; do
    tname=UDP
    [ "$t" = t1 ] && tname=TCP
    port=$(free_port)
    case $target in
      vcms-sqlite) start_vcms sqlite "$port"; have_users=1 ;;
      kamailio)
        if [ $have_users = 0 ]; then
          start_vcms sqlite "$port"; kill "$pid"; wait "$pid" 2>/dev/null || true; have_users=1
        fi
        start_kamailio "$port" kamailio-proxy.cfg ;;
    esac
    callers
    CALLEE=$(tail -1 "$out/callee.csv" | cut -d';' -f1)
    for r in capacity latency; do
      calls=$CALLS rate=$RATE
      if [ $r = latency ]; then calls=$LAT_CALLS; rate=$LAT_RATE; fi
      read -r ok fail secs p50 p99 cpu_s < <(run "$target-$t-$r" "$port" "$t" "$calls" "$rate")
      cps=$(awk -v n="$ok" -v s="$secs" 'BEGIN{printf "%.0f", (s>0)?n/s:0}')
      cpu_pct=$(awk -v c="$cpu_s" -v s="$secs" 'BEGIN{printf "%.0f", (s>0)?100*c/s:0}')
      us=$(awk -v c="$cpu_s" -v n="$ok" 'BEGIN{printf "%.0f", (n>0)?1e6*c/n:0}')
      echo "| $target | $tname | $r ($rate/s offered, ≤$LIMIT in flight) | $ok/$((ok+fail)) | ${secs} s | **$cps** | $p50 | $p99 | $cpu_pct% ($us µs/call) |"
    done
    echo "# $target peak RSS (VmHWM, main process): $(( $(awk '/VmHWM/{print $2}' "/proc/$pid/status") / 1024 )) MiB" >&2
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
done
