#!/usr/bin/env bash
# Console speed (issue 4): the release `vcms` binary in a pseudo-terminal against a release
# server holding 10 enterprises x 10,000 accounts + 1,000 x 20 (the first big enterprise is
# signed in). Usage: scripts/bench-console.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p vcms-server --bins
cargo build --release -q -p vcms --bin vcms --example console_bench
dir=$(mktemp -d /tmp/vcms-cbench.XXXX)
url="sqlite://$dir/vcms.db?mode=rwc"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
VCMS_DATA_DIR="$dir" VCMS_DATABASE_URL="$url" VCMS_HTTP_LISTEN="127.0.0.1:$port" VCMS_LOG=warn VCMS_CAPTCHA=off \
  target/release/vcms-server serve > "$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
target/release/vcms-bench --server "http://127.0.0.1:$port" --database-url "$url" --data-dir "$dir" ${SMALL:+--small $SMALL} >/dev/null
target/release/examples/console_bench --server "http://127.0.0.1:$port" --bin "$PWD/target/release/vcms"
