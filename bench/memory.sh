#!/usr/bin/env bash
# Memory benchmark: idle RSS, then RSS per stored message at 100 000 small messages (~2 KB) and at
# 2 000 messages of 1 MB, and RSS while flooding far past --max-messages (it must stay flat).
# Drives mailsnare with postfix's smtp-source (apt-get install postfix). BENCH_SCALE scales counts.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin"
command -v smtp-source >/dev/null || { echo "smtp-source not found: apt-get install postfix" >&2; exit 2; }
SCALE="${BENCH_SCALE:-1}"
scaled() { python3 -c "import sys; print(max(1, int(float(sys.argv[1]) * float(sys.argv[2]))))" "$1" "$SCALE"; }
BIN="${MAILSNARE_BIN:-}"
if [ -z "$BIN" ]; then cargo build --release --quiet; BIN=target/release/mailsnare; fi

pid=""; log="$(mktemp)"
stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; pid=""; }
trap 'stop; rm -f "$log"' EXIT
start() {
  "$BIN" --smtp 127.0.0.1:0 --http 127.0.0.1:0 "$@" 2>"$log" & pid=$!
  for _ in $(seq 100); do grep -q "HTTP listening" "$log" && break; sleep 0.1; done
  smtp="$(grep -oP 'SMTP listening on \K[0-9.:]+' "$log")"; http="$(grep -oP 'HTTP listening on \K[0-9.:]+' "$log")"
}
calc() { python3 -c "print($1)"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
stored() { curl -sf "http://$http/api/v1/info" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["Messages"], d["DatabaseSize"])'; }
send() { timeout 600 smtp-source -d -s 16 -m "$1" -l "$2" -f a@example.com -t b@example.com "$smtp"; }

small=$(scaled 100000); large=$(scaled 2000); flood=$(scaled 200000)
start --max-messages 1000000 --max-bytes 8GiB
idle=$(rss_kib)
send "$small" 2048
read -r n bytes < <(stored)
rss=$(rss_kib)
printf 'idle RSS: %.1f MiB\n' "$(calc "$idle/1024")"
printf '%d small messages: raw %.1f MiB, RSS %.1f MiB, %.0f bytes of RSS per message (%.0f raw), RSS/raw %.2f\n' \
  "$n" "$(calc "$bytes/1048576")" "$(calc "$rss/1024")" "$(calc "($rss-$idle)*1024/$n")" \
  "$(calc "$bytes/$n")" "$(calc "$rss*1024/$bytes")"
[ "$n" -eq "$small" ] || { echo "LOSS: stored $n of $small"; exit 1; }
stop

start --max-messages 1000000 --max-bytes 8GiB
idle=$(rss_kib)
send "$large" 1048576
read -r n bytes < <(stored)
rss=$(rss_kib)
printf '%d messages of 1 MB: raw %.1f MiB, RSS %.1f MiB, RSS/raw %.2f\n' "$n" "$(calc "$bytes/1048576")" \
  "$(calc "$rss/1024")" "$(calc "$rss*1024/$bytes")"
[ "$n" -eq "$large" ] || { echo "LOSS: stored $n of $large"; exit 1; }
stop

start --max-messages 10000
send "$(( flood / 4 ))" 2048; first=$(rss_kib)
send "$(( flood * 3 / 4 ))" 2048; last=$(rss_kib)
read -r n bytes < <(stored)
printf 'flood of %d past --max-messages 10000: stored %d, RSS %.1f MiB after a quarter, %.1f MiB at the end\n' \
  "$flood" "$n" "$(calc "$first/1024")" "$(calc "$last/1024")"
