# Shared by scripts/bench-sip.sh and scripts/bench-calls.sh (sourced, not run): free ports,
# CPU and memory of a server's processes, and starting vcms-server or Kamailio with the
# SIPp users of "$out/users.csv" (USERS of them). Expects $out, $root and USERS (set before
# the functions run, not before sourcing).

# SIPp, Kamailio with its SQLite modules, and sqlite3, from Debian's packages when missing.
install_tools() {
  local missing=() sudo=""
  command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)
  command -v kamailio >/dev/null 2>&1 || missing+=(kamailio)
  [ -e /usr/lib/x86_64-linux-gnu/kamailio/modules/db_sqlite.so ] || missing+=(kamailio-sqlite-modules)
  command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The server's processes: the main PID and, for Kamailio, its children.
pids_of() { echo "$1"; pgrep -P "$1" || true; }
cpu_ticks() { # utime+stime of every process of the server
  local t=0 p
  for p in $(pids_of "$1"); do
    [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat")))
  done
  echo "$t"
}
pss_kib() { # proportional set size, summed (Kamailio's shared memory counted once)
  local t=0 p
  for p in $(pids_of "$1"); do
    [ -r "/proc/$p/smaps_rollup" ] && t=$((t + $(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup")))
  done
  echo "$t"
}
# Each figure is a one-core ceiling: the server (all of Kamailio's processes too) on one
# core, the load generator on the other (SERVER_CPU, LOAD_CPU; PIN=0 turns pinning off).
if [ "${PIN:-1}" = 1 ] && command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER="taskset -c ${SERVER_CPU:-0}"
  PIN_LOAD="taskset -c ${LOAD_CPU:-1}"
else
  PIN_SERVER=""
  PIN_LOAD=""
fi
hwm_kib() { awk '/VmHWM/{print $2}' "/proc/$1/status"; }

start_vcms() { # backend port -> sets pid, dir
  local backend=$1 port=$2
  dir=$(mktemp -d "$out/vcms-$backend.XXXX")
  if [ "$backend" = postgres ]; then
    db="vcms_sipbench_$(date +%s)"
    psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db" postgres
    url="postgres://postgres@127.0.0.1:5432/$db"
  else
    url="sqlite://$dir/vcms.db?mode=rwc"
  fi
  local http
  http=$(free_port)
  VCMS_DATA_DIR="$dir" VCMS_DATABASE_URL="$url" VCMS_HTTP_LISTEN="127.0.0.1:$http" VCMS_LOG=warn \
    VCMS_CAPTCHA=off VCMS_SIP_UDP="127.0.0.1:$port" VCMS_SIP_TCP="127.0.0.1:$port" VCMS_SIP_TLS=off \
    target/release/vcms-server serve >"$dir/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.2; done
  target/release/vcms-bench --server "http://127.0.0.1:$http" --database-url "$url" --data-dir "$dir" \
    --big $(((USERS + 9999) / 10000)) --small 0 --sip-csv "$out/users.csv" --sip-users "$USERS" >/dev/null
  # Restart, so that memory is measured without the fill's leftovers.
  kill "$pid"; wait "$pid" 2>/dev/null || true
  VCMS_DATA_DIR="$dir" VCMS_DATABASE_URL="$url" VCMS_HTTP_LISTEN="127.0.0.1:$http" VCMS_LOG=warn \
    VCMS_CAPTCHA=off VCMS_SIP_UDP="127.0.0.1:$port" VCMS_SIP_TCP="127.0.0.1:$port" VCMS_SIP_TLS=off \
    $PIN_SERVER target/release/vcms-server serve >"$dir/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.2; done
}

start_kamailio() { # port [config] -> sets pid
  local port=$1 cfg=${2:-kamailio.cfg}
  local kdir="$out/kamailio.$port"
  mkdir -p "$kdir"
  {
    echo "CREATE TABLE version (table_name VARCHAR(32) NOT NULL, table_version INTEGER DEFAULT 0 NOT NULL, CONSTRAINT version_table_name_idx UNIQUE (table_name));"
    cat /usr/share/kamailio/db_sqlite/auth_db-create.sql /usr/share/kamailio/db_sqlite/usrloc-create.sql
    echo "BEGIN;"
    tail -n +2 "$out/users.csv" | awk -F';' '{printf "INSERT INTO subscriber(username,domain,password) VALUES (%c%s%c,%cvcms.local%c,%c%s%c);\n", 39,$1,39,39,39,39,$2,39}'
    echo "COMMIT;"
  } | sqlite3 "$kdir/kamailio.db"
  # WAL (kept in the file): without it the usrloc flush locks the database and auth_db's
  # queries fail with "database is locked" under load.
  sqlite3 "$kdir/kamailio.db" "PRAGMA journal_mode=WAL;" >/dev/null
  $PIN_SERVER kamailio -f "$root/scripts/kamailio/$cfg" -A "DBURL=\"sqlite://$kdir/kamailio.db\"" \
    -A "LISTEN_UDP=udp:127.0.0.1:$port" -A "LISTEN_TCP=tcp:127.0.0.1:$port" \
    -m 512 -M 32 -P "$kdir/kamailio.pid" >"$kdir/kamailio.log" 2>&1
  for _ in $(seq 50); do [ -s "$kdir/kamailio.pid" ] && break; sleep 0.1; done
  pid=$(cat "$kdir/kamailio.pid")
  sleep 1
}

