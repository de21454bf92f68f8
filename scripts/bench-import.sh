#!/usr/bin/env bash
# Spreadsheet import speed (issue 6). Usage: scripts/bench-import.sh
# Builds release binaries; writes 10,000- and 100,000-row .xlsx files; times the reader
# alone, then the CLI end to end (read → preview → apply) against a local vcms-server on a
# fresh SQLite database, with /usr/bin/time for the CLI's peak memory and VmHWM for the
# server's.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p vcms -p vcms-server -p vcms-sheet --bins --example sheet
dir=$(mktemp -d /tmp/vcms-import-bench.XXXX)
sheet=target/release/examples/sheet
vcms=target/release/vcms
$sheet rows 10000 "$dir/10k.xlsx"
$sheet rows 100000 "$dir/100k.xlsx"
ls -la "$dir"/*.xlsx | awk '{print $5, $9}'
echo "== reader alone (parse) =="
for f in 10k 100k; do
  /usr/bin/time -f "peak RSS %M KB" $sheet read "$dir/$f.xlsx"
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export VCMS_DATA_DIR="$dir/server" VCMS_HTTP_LISTEN="127.0.0.1:$port" VCMS_LOG=warn VCMS_CAPTCHA=off
target/release/vcms-server enterprise create --email bench@example.com --password Bench2026x \
  --name Bench --company Bench --country China > /dev/null
lic=$(target/release/vcms-server license issue --quantity 10000 --years 1 | tail -1)
target/release/vcms-server serve > "$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
export VCMS_SERVER="http://127.0.0.1:$port" VCMS_SESSION_FILE="$dir/session.json" VCMS_PASSWORD=Bench2026x
$vcms login --email bench@example.com > /dev/null
$vcms license add "$lic" > /dev/null
run() { # label, args…
  local label=$1; shift
  local t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$dir/mem" $vcms "$@" > "$dir/out" 2>&1 || true
  local t1=$(date +%s.%N)
  printf '%s | %.2f s | CLI peak RSS %s KB | %s\n' "$label" "$(echo "$t1 - $t0" | bc)" "$(cat "$dir/mem")" "$(grep -E 'to create|successfully|Nothing' "$dir/out" | head -1)"
}
echo "== CLI end to end against the local server =="
run "10k preview (dry run), empty enterprise" account import "$dir/10k.xlsx" --dry-run
run "10k import: read + preview + apply (10,000 created)" account import "$dir/10k.xlsx" --yes
run "10k again: read + preview (10,000 unchanged)" account import "$dir/10k.xlsx" --yes
$vcms account export "$dir/all.xlsx" > /dev/null
run "export 10,000 accounts to .xlsx" account export "$dir/all2.xlsx"
python3 - "$dir" <<'PY'
import sys, zipfile, re
d = sys.argv[1]
# Batch edit: change every email in the exported sheet (shared strings) and import it again.
src = zipfile.ZipFile(f"{d}/all.xlsx")
out = zipfile.ZipFile(f"{d}/edited.xlsx", "w", zipfile.ZIP_DEFLATED)
for item in src.infolist():
    data = src.read(item.filename)
    if item.filename == "xl/sharedStrings.xml":
        data = data.replace(b"@example.com", b"@example.org")
    out.writestr(item, data)
out.close()
PY
run "batch edit: 10,000 emails changed (read + preview + apply)" account import "$dir/edited.xlsx" --yes
run "100k preview: read + dry run (90,000 duplicate rows reported)" account import "$dir/100k.xlsx" --dry-run
echo "server peak RSS: $(awk '/VmHWM/{print $2" "$3}' /proc/$pid/status)"
