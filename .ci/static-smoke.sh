#!/usr/bin/env bash
# Proves what can be proved of the Docker image without a Docker engine: builds the binary exactly
# as the Dockerfile does (static, crt-static), checks it needs no shared library, then runs it in an
# empty root directory (chroot: only the binary inside), sends a message and reads it back, and
# runs its own healthcheck in there too. Prints the binary size (about the image size).
set -euo pipefail
cd "$(dirname "$0")/.."

target="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_TARGET_DIR="$PWD/target/static"
# getrandom's default probes for libc's getrandom() at run time, which a static binary cannot do,
# and then falls back to /dev/urandom, which an empty root does not have: call it directly.
RUSTFLAGS='-C target-feature=+crt-static --cfg getrandom_backend="linux_getrandom"' cargo build --release --locked --quiet --bin mailsnare --target "$target"
bin="$CARGO_TARGET_DIR/$target/release/mailsnare"

if ! ldd "$bin" 2>&1 | grep -qE "not a dynamic executable|statically linked"; then
  echo "static-smoke: $bin is dynamically linked:"; ldd "$bin"; exit 1
fi
echo "static-smoke: static binary, $(stat -c %s "$bin") bytes ($(du -h "$bin" | cut -f1))"

root="$(mktemp -d)"
log="$root.log"
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$root" "$log" "$root.raw" "$root.expected"; }
trap cleanup EXIT
chmod 755 "$root"
cp "$bin" "$root/mailsnare"
# Nothing else in the root: no libc, no /etc, no /dev, no /proc. As the image, a non-root user.
# Stored exactly as sent (no trace headers), so the bytes read back can be compared with cmp.
chroot --userspec=65532:65532 "$root" /mailsnare --smtp 127.0.0.1:0 --http 127.0.0.1:0 --smtp-store-exact 2>"$log" &
pid=$!
for _ in $(seq 100); do
  grep -q "HTTP listening on" "$log" && break
  sleep 0.1
done
smtp="$(grep -oP 'SMTP listening on \K[0-9.:]+' "$log")"
http="$(grep -oP 'HTTP listening on \K[0-9.:]+' "$log")"
[ -n "$smtp" ] && [ -n "$http" ] || { echo "static-smoke: server did not start:"; cat "$log"; exit 1; }

python3 - "$smtp" <<'PY'
import smtplib, sys
host, port = sys.argv[1].rsplit(":", 1)
with smtplib.SMTP(host, int(port), timeout=10) as s:
    s.sendmail("a@example.com", ["b@example.com"], b"Subject: from the empty root\r\n\r\nhello\r\n")
PY
subject="$(curl -sf "http://$http/api/v1/message/latest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Subject"])')"
[ "$subject" = "from the empty root" ] || { echo "static-smoke: read back $subject"; exit 1; }
curl -sf "http://$http/api/v1/message/latest/raw" -o "$root.raw"
printf 'Subject: from the empty root\r\n\r\nhello\r\n' > "$root.expected"
cmp "$root.raw" "$root.expected" || { echo "static-smoke: the raw message differs from what was sent"; exit 1; }
chroot --userspec=65532:65532 "$root" /mailsnare healthcheck --http "$http"
if chroot --userspec=65532:65532 "$root" /mailsnare healthcheck --http 127.0.0.1:1 2>/dev/null; then
  echo "static-smoke: healthcheck passed against a closed port"; exit 1
fi
echo "static-smoke: OK (sent over SMTP, read back over HTTP, healthcheck 0 when up and 1 when down)"
