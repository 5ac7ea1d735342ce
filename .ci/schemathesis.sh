#!/usr/bin/env bash
# Fuzzes the native HTTP API against its own OpenAPI document (src/http/openapi.json, served at
# /api/v1/openapi.json) with Schemathesis: no request may get a 5xx, and every response must have a
# documented status and match the documented schema.
#
# Installs Schemathesis (pinned) into a venv under target/, builds and starts the debug binary on
# ephemeral ports, seeds a few messages over SMTP, then runs two passes so that deletions do not
# empty the store under the readers: everything but DELETE, then the DELETE operations.
# Skipped: the WebSocket route. The long poll is capped: `wait` is always sent as 0.
#
# Env: MAX_EXAMPLES (default 50) test cases per operation, SEED for a reproducible run, CHECKS to
# replace the checks (e.g. `all`). Arguments are passed on to both `schemathesis run`s.
# Exits non-zero on any failure; the server is stopped on exit either way.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
SPEC_VALIDATOR_VERSION=0.7.2
MAX_EXAMPLES=${MAX_EXAMPLES:-50}
CHECKS=${CHECKS:-not_a_server_error,status_code_conformance,response_schema_conformance}
EXTRA_ARGS=("$@")
VENV=$PWD/target/schemathesis-venv

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION" ||
  ! "$VENV/bin/python" -c 'import openapi_spec_validator' 2>/dev/null; then
  echo "== installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" "openapi-spec-validator==$SPEC_VALIDATOR_VERSION"
fi

echo "== the document is a valid OpenAPI 3.0 document"
"$VENV/bin/openapi-spec-validator" src/http/openapi.json

echo "== building the debug binary"
cargo build -q --bin mailsnare

WORK=$(mktemp -d "$PWD/target/schemathesis.XXXXXX")
LOG=$WORK/server.log
SERVER=
stop_server() {
  if [ -n "$SERVER" ] && kill -0 "$SERVER" 2>/dev/null; then
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
  fi
}
trap stop_server EXIT

RUST_LOG=info NO_COLOR=1 target/debug/mailsnare --smtp 127.0.0.1:0 --http 127.0.0.1:0 \
  </dev/null >/dev/null 2>"$LOG" &
SERVER=$!

HTTP= SMTP=
for _ in $(seq 200); do
  HTTP=$(sed -n 's/.*HTTP listening on \([0-9.]*:[0-9]*\).*/\1/p' "$LOG" | head -n 1)
  SMTP=$(sed -n 's/.*SMTP listening on \([0-9.]*:[0-9]*\).*/\1/p' "$LOG" | head -n 1)
  if [ -n "$HTTP" ] && [ -n "$SMTP" ]; then break; fi
  if ! kill -0 "$SERVER" 2>/dev/null; then
    echo "the server exited:" >&2
    cat "$LOG" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$HTTP" ] || [ -z "$SMTP" ]; then
  echo "the server did not print its addresses:" >&2
  cat "$LOG" >&2
  exit 1
fi
echo "== server: HTTP $HTTP, SMTP $SMTP (log: $LOG)"

seed() {
  "$VENV/bin/python" - "$SMTP" <<'PY'
import smtplib, sys
from email.message import EmailMessage

host, port = sys.argv[1].rsplit(":", 1)
messages = []

m = EmailMessage()
m["From"], m["To"], m["Subject"] = "Alice <alice@example.com>", "bob@example.net", "plain hello"
m.set_content("Hello Bob,\nplain text only.\n")
messages.append(m)

m = EmailMessage()
m["From"], m["To"], m["Cc"] = "shop@example.com", "Carol <carol@example.org>", "dave@example.org"
m["Subject"] = "Your receipt – café ☕"
m["X-Tags"] = "receipts, test"
m["List-Unsubscribe"] = "<mailto:unsub@example.com>, <https://example.com/u>"
m.set_content("Total: 3 EUR\n")
m.add_alternative('<p>Total: <b>3 EUR</b> <img src="cid:logo@example.com"></p>', subtype="html")
m.get_payload()[1].add_related(b"\x89PNG\r\n\x1a\n", maintype="image", subtype="png", cid="<logo@example.com>")
m.add_attachment(b"%PDF-1.4 receipt", maintype="application", subtype="pdf", filename="receipt.pdf")
messages.append(m)

m = EmailMessage()
m["To"], m["Subject"] = "erin@example.com", "no From header"
m.set_content("orphan\n")
messages.append(m)

with smtplib.SMTP(host, int(port), timeout=10) as smtp:
    for i, m in enumerate(messages):
        # The second also goes to an envelope-only (Bcc) recipient.
        rcpts = ["bob@example.net", "hidden@example.com"][: 1 + i % 2]
        smtp.send_message(m, from_addr="sender@example.com", to_addrs=rcpts)
print(f"seeded {len(messages)} messages")
PY
}
seed

BASE="http://$HTTP"
cat >"$WORK/schemathesis.toml" <<'TOML'
# The long poll: never let a generated `wait` hold a request open.
[[operations]]
include-operation-id = "getMessage"
parameters = { "query.wait" = "0" }
TOML

# Runs in $WORK: schemathesis keeps its crash cache in ./.schemathesis.
run() {
  cd "$WORK" && "$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" run "$BASE/api/v1/openapi.json" \
    --checks "$CHECKS" \
    --max-examples "$MAX_EXAMPLES" \
    ${SEED:+--seed "$SEED"} \
    --request-timeout 10 \
    --exclude-path /api/events \
    --generation-database none \
    --no-color \
    --report junit,ndjson --report-dir "$WORK/report" \
    "$@" "${EXTRA_ARGS[@]}"
}

status=0
echo "== schemathesis pass 1: every operation but DELETE ($MAX_EXAMPLES examples each)"
(run --exclude-method DELETE) || status=1
seed
echo "== schemathesis pass 2: DELETE operations"
(run --include-method DELETE --phases examples,coverage,fuzzing --report-junit-path "$WORK/report/junit-delete.xml" \
  --report-ndjson-path "$WORK/report/events-delete.ndjson") || status=1

if ! kill -0 "$SERVER" 2>/dev/null; then
  echo "the server died during the run:" >&2
  tail -n 50 "$LOG" >&2
  exit 1
fi
if grep -qE "panicked|ERROR" "$LOG"; then
  echo "the server logged errors:" >&2
  grep -E "panicked|ERROR" "$LOG" | head -n 20 >&2
  status=1
fi
[ "$status" -eq 0 ] && echo "== schemathesis: no failures (reports in $WORK/report)"
exit "$status"
