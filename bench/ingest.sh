#!/usr/bin/env bash
# Ingest benchmark: mailsnare vs postfix smtp-sink, both driven by smtp-source.
#
# Shapes (fixed order):
#   keepalive : 20000 msgs x ~2 KiB, 16 sessions, many msgs per connection
#   perconn   : 20000 msgs x ~2 KiB, 16 sessions, one msg per connection
#   large     :  2000 msgs x ~100 KiB, 16 sessions, many msgs per connection
#
# Env:
#   MAILSNARE_BIN  use this binary instead of `cargo build --release`
#   BENCH_SCALE    multiply message counts (e.g. 0.01 for a CI smoke run)
#   BENCH_ROUNDS   sink/mailsnare pairs per shape, run alternately; rates are their medians
#                  (default 5: a single ~1 s round moves by a fifth on a noisy machine)
#   BENCH_TIMEOUT  seconds allowed per smtp-source run (default 300)
#   BENCH_KEEP_LOGS=1  keep server/smtp-source logs (always kept on failure)
#
# Exits non-zero on LOSS (stored != sent), smtp-source errors, or a crash.
set -euo pipefail

# smtp-source/smtp-sink live in /usr/sbin, often not on a non-root PATH.
export PATH="$PATH:/usr/sbin:/usr/local/sbin"
for tool in smtp-source smtp-sink python3 curl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        case "$tool" in
            smtp-*) echo "error: $tool not found; run: apt-get install postfix" >&2 ;;
            *) echo "error: $tool not found" >&2 ;;
        esac
        exit 2
    fi
done

SCALE="${BENCH_SCALE:-1}"
RUN_TIMEOUT="${BENCH_TIMEOUT:-300}"
SESSIONS=16
ROUNDS="${BENCH_ROUNDS:-5}"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "error: BENCH_ROUNDS must be a positive integer" >&2; exit 2; }

# scaled COUNT -> integer >= 1
scaled() { awk -v n="$1" -v s="$SCALE" 'BEGIN { v = int(n * s + 0.5); if (v < 1) v = 1; print v }'; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mailsnare-bench.XXXXXX")"
PIDS=()
FAILED=0
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        # bounded wait: escalate to KILL after ~5 s
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [[ $rc -ne 0 || $FAILED -ne 0 || -n "${BENCH_KEEP_LOGS:-}" ]]; then
        echo "logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Traps are set first so an interrupted build is waited for, not orphaned.
cd "$(dirname "$0")/.."
if [[ -n "${MAILSNARE_BIN:-}" ]]; then
    BIN="$MAILSNARE_BIN"
else
    cargo build --release --quiet
    BIN="${CARGO_TARGET_DIR:-target}/release/mailsnare"
fi
[[ -x "$BIN" ]] || { echo "error: $BIN is not executable" >&2; exit 2; }

now() { date +%s.%N; }
fdiv() { awk -v a="$1" -v b="$2" -v f="${3:-%.1f}" 'BEGIN { if (b == 0) print "n/a"; else printf f "\n", a / b }'; }

# A free loopback port for smtp-sink (it has no port-0 mode).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
}

# Drop a reaped PID so the EXIT trap never signals a recycled one.
forget_pid() {
    local keep=() p
    for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# --- mailsnare lifecycle ----------------------------------------------------
SNARE_PID=""
SMTP_ADDR=""
HTTP_URL=""
start_mailsnare() {
    local log=$1
    # NO_COLOR keeps ANSI escapes out of the log we grep for the ports.
    NO_COLOR=1 "$BIN" --smtp 127.0.0.1:0 --http 127.0.0.1:0 \
        --max-messages 1000000 --max-bytes 4GiB --max-connections 1024 \
        >"$log" 2>&1 &
    SNARE_PID=$!
    PIDS+=("$SNARE_PID")
    local smtp="" http=""
    for _ in $(seq 100); do  # up to 10 s
        kill -0 "$SNARE_PID" 2>/dev/null || { echo "error: mailsnare exited at startup:" >&2; tail -20 "$log" >&2; exit 1; }
        smtp=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -oE 'SMTP listening on 127\.0\.0\.1:[0-9]+' | head -1 | grep -oE '[0-9]+$' || true)
        http=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -oE 'HTTP listening on 127\.0\.0\.1:[0-9]+' | head -1 | grep -oE '[0-9]+$' || true)
        [[ -n "$smtp" && -n "$http" ]] && break
        sleep 0.1
    done
    [[ -n "$smtp" && -n "$http" ]] || { echo "error: no listen lines from mailsnare in 10 s:" >&2; tail -20 "$log" >&2; exit 1; }
    SMTP_ADDR="127.0.0.1:$smtp"
    HTTP_URL="http://127.0.0.1:$http"
    for _ in $(seq 100); do
        curl -sf --max-time 2 "$HTTP_URL/livez" >/dev/null && return 0
        sleep 0.1
    done
    echo "error: $HTTP_URL/livez not 200 within 10 s" >&2
    exit 1
}

# Stored message count ("total") via the API; empty on error.
stored_total() {
    curl -sf --max-time 10 "$HTTP_URL/api/v1/messages?limit=1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])' 2>/dev/null || true
}

# Sum of per-message Size over the whole store, paging by 1000.
stored_bytes() {
    timeout 120 python3 - "$HTTP_URL" <<'PY' || echo "?"
import json, sys, urllib.request
base = sys.argv[1]
start = total_bytes = seen = 0
while True:
    with urllib.request.urlopen(f"{base}/api/v1/messages?limit=1000&start={start}", timeout=30) as r:
        page = json.load(r)
    msgs = page.get("messages") or []
    if not msgs:
        break
    for m in msgs:
        total_bytes += int(m.get("Size", m.get("size", 0)))
    seen += len(msgs)
    start += len(msgs)
    if start >= page.get("messages_count", page.get("total", 0)):
        break
print(total_bytes)
PY
}

# --- drive one server with smtp-source ---------------------------------------
# run_source LABEL ADDR COUNT SIZE KEEPALIVE(0|1) -> sets ELAPSED; returns rc.
ELAPSED=0
run_source() {
    local label=$1 addr=$2 count=$3 size=$4 keep=$5
    local sess=$SESSIONS
    (( count < sess )) && sess=$count
    # -d = DON'T disconnect (reuse the session); omitting it gives one
    # message per connection. -l is body bytes; smtp-source adds ~300 B
    # of headers. smtp-source aborts (rc!=0) on any non-2xx reply.
    local args=(-s "$sess" -m "$count" -l "$size")
    (( keep )) && args=(-d "${args[@]}")
    local t0 t1 rc=0
    t0=$(now)
    # background + wait so an INT/TERM trap fires at once instead of after
    # smtp-source finishes; timeout forwards our TERM to smtp-source.
    timeout "$RUN_TIMEOUT" smtp-source "${args[@]}" "$addr" >"$WORK/$label.source.log" 2>&1 &
    local src=$!
    PIDS+=("$src")
    wait "$src" || rc=$?
    t1=$(now)
    forget_pid "$src"
    ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    if (( rc != 0 )); then
        echo "  ! smtp-source ($label) failed rc=$rc after ${ELAPSED}s:" >&2
        tail -5 "$WORK/$label.source.log" | sed 's/^/    /' >&2
    fi
    return $rc
}

# --- benchmark ---------------------------------------------------------------
SHAPES=(keepalive perconn large)
declare -A COUNT SIZE KEEP
COUNT[keepalive]=$(scaled 20000); SIZE[keepalive]=2048;   KEEP[keepalive]=1
COUNT[perconn]=$(scaled 20000);   SIZE[perconn]=2048;     KEEP[perconn]=0
COUNT[large]=$(scaled 2000);      SIZE[large]=102400;     KEEP[large]=1

declare -A SINK_RATE SNARE_RATE RATIO STORED RSS RAW RSSRATIO GROWTH IDLE ROUND_RATIOS
IDLE_RSS=""
echo "mailsnare ingest bench: bin=$BIN scale=$SCALE sessions=$SESSIONS rounds=$ROUNDS cores=$(nproc)"

# median of the numbers given (sorted numerically; the lower middle one for an even count)
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# One round of one shape: smtp-sink, then a fresh mailsnare, driven alike. Sets R_SINK, R_SNARE
# (msg/s or ERR), R_RSS, R_IDLE (KiB) and R_RAW (bytes stored), and checks for loss.
one_round() {
    local shape=$1 round=$2 n=${COUNT[$1]} sz=${SIZE[$1]} keep=${KEEP[$1]}
    R_SINK=ERR; R_SNARE=ERR; R_RSS=0; R_IDLE=0; R_RAW="?"

    # smtp-sink baseline. Default mode accepts everything and discards it;
    # no -c (per-event terminal output) and no dump files so it is a fast
    # sink. -u is mandatory when root. Backlog 1000 keeps connect bursts
    # from being refused.
    local port sink_pid sink_args=()
    port=$(free_port)
    (( EUID == 0 )) && sink_args=(-u nobody)
    smtp-sink "${sink_args[@]}" "127.0.0.1:$port" 1000 >"$WORK/$shape.$round.sink.log" 2>&1 &
    sink_pid=$!
    PIDS+=("$sink_pid")
    # wait until it accepts connections (bounded)
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    if run_source "$shape.$round.sink" "127.0.0.1:$port" "$n" "$sz" "$keep"; then
        R_SINK=$(fdiv "$n" "$ELAPSED")
    else
        FAILED=1
    fi
    stop_pid "$sink_pid"

    # mailsnare, a fresh process per round so rounds and shapes don't influence each other.
    start_mailsnare "$WORK/$shape.$round.mailsnare.log"
    R_IDLE=$(rss_kib "$SNARE_PID")
    local source_ok=1
    if run_source "$shape.$round.mailsnare" "$SMTP_ADDR" "$n" "$sz" "$keep"; then
        R_SNARE=$(fdiv "$n" "$ELAPSED")
    else
        FAILED=1; source_ok=0
    fi
    if ! kill -0 "$SNARE_PID" 2>/dev/null; then
        echo "  ! mailsnare CRASHED during $shape round $round; log tail:" >&2
        tail -20 "$WORK/$shape.$round.mailsnare.log" | sed 's/^/    /' >&2
        FAILED=1
        stop_pid "$SNARE_PID"
        STORED[$shape]="crash"
        return
    fi

    # A 250 after "." should mean "stored"; record the immediate count and
    # only then allow 5 s of grace to tell lag apart from real loss.
    local stored first
    stored=$(stored_total)
    if [[ "$stored" != "$n" ]]; then
        first=$stored
        for _ in $(seq 50); do sleep 0.1; stored=$(stored_total); [[ "$stored" == "$n" ]] && break; done
        [[ "$stored" == "$n" ]] && echo "  ! WARN stored count lagged: $first right after smtp-source, $stored later"
    fi
    # The summary shows the last round's count, or the first one that went wrong.
    [[ -z ${STORED[$shape]:-} || ${STORED[$shape]} == "$n" ]] && STORED[$shape]=${stored:-?}
    if (( ! source_ok )); then
        # smtp-source aborted, so fewer than $n were accepted: not a loss check
        echo "  (smtp-source aborted; stored count is not comparable to sent)"
    elif [[ "$stored" != "$n" ]]; then
        echo "  LOSS: $shape round $round stored=${stored:-?} sent=$n"
        FAILED=1
    fi

    R_RSS=$(rss_kib "$SNARE_PID")
    R_RAW=$(stored_bytes)
    stop_pid "$SNARE_PID"
    local ratio=n/a
    [[ $R_SINK != ERR && $R_SNARE != ERR ]] && ratio=$(fdiv "$R_SNARE" "$R_SINK" "%.2f")
    echo "  round $round: smtp-sink ${R_SINK} msg/s, mailsnare ${R_SNARE} msg/s, ratio $ratio, RSS $(fdiv "$R_RSS" 1024) MiB (idle $(fdiv "$R_IDLE" 1024) MiB), stored=$stored sent=$n"
    ROUND_RATIOS[$shape]="${ROUND_RATIOS[$shape]:-}${ROUND_RATIOS[$shape]:+ }$ratio"
}

for shape in "${SHAPES[@]}"; do
    n=${COUNT[$shape]}; sz=${SIZE[$shape]}; keep=${KEEP[$shape]}
    echo "== $shape: $n msgs, -l $sz, $SESSIONS sessions, $([[ $keep == 1 ]] && echo kept-alive || echo 'one msg/connection'), $ROUNDS rounds"
    sinks=(); snares=(); rsses=(); idles=(); raws=()
    for round in $(seq "$ROUNDS"); do
        one_round "$shape" "$round"
        [[ $R_SINK != ERR ]] && sinks+=("$R_SINK")
        [[ $R_SNARE != ERR ]] && snares+=("$R_SNARE")
        (( R_RSS > 0 )) && rsses+=("$R_RSS") && idles+=("$R_IDLE")
        [[ $R_RAW =~ ^[0-9]+$ ]] && raws+=("$R_RAW")
    done
    # Each server's median rate over the rounds: one round is ~1 s, and this machine's noise
    # moves a single round by a fifth either way.
    SINK_RATE[$shape]=ERR; SNARE_RATE[$shape]=ERR; RATIO[$shape]=n/a; RSSRATIO[$shape]=n/a; GROWTH[$shape]=n/a
    (( ${#sinks[@]} == ROUNDS )) && SINK_RATE[$shape]=$(median "${sinks[@]}")
    (( ${#snares[@]} == ROUNDS )) && SNARE_RATE[$shape]=$(median "${snares[@]}")
    if [[ ${SINK_RATE[$shape]} != ERR && ${SNARE_RATE[$shape]} != ERR ]]; then
        RATIO[$shape]=$(fdiv "${SNARE_RATE[$shape]}" "${SINK_RATE[$shape]}" "%.2f")
    fi
    RSS[$shape]=0; IDLE[$shape]=0; RAW[$shape]=0
    if (( ${#rsses[@]} )); then
        RSS[$shape]=$(median "${rsses[@]}"); IDLE[$shape]=$(median "${idles[@]}")
    fi
    (( ${#raws[@]} )) && RAW[$shape]=$(median "${raws[@]}")
    [[ $shape == keepalive ]] && IDLE_RSS=${IDLE[$shape]}
    if (( ${RAW[$shape]} > 0 && ${RSS[$shape]} > 0 )); then
        RSSRATIO[$shape]=$(fdiv "$(( ${RSS[$shape]} * 1024 ))" "${RAW[$shape]}" "%.2f")
        # growth over idle isolates per-message cost from the fixed runtime cost
        GROWTH[$shape]=$(fdiv "$(( (${RSS[$shape]} - ${IDLE[$shape]}) * 1024 ))" "${RAW[$shape]}" "%.2f")
    fi
    echo "  median: smtp-sink ${SINK_RATE[$shape]} msg/s, mailsnare ${SNARE_RATE[$shape]} msg/s, ratio ${RATIO[$shape]} (rounds: ${ROUND_RATIOS[$shape]:-}); RSS $(fdiv "${RSS[$shape]}" 1024) MiB, raw $(fdiv "${RAW[$shape]}" 1048576) MiB, RSS/raw ${RSSRATIO[$shape]}"
done

echo
echo "== summary (scale=$SCALE, medians of $ROUNDS rounds, idle RSS $(fdiv "$IDLE_RSS" 1024) MiB; RSS/raw target <= 2 for keepalive)"
printf '%-10s %6s %6s %10s %11s %6s %8s %8s %8s %9s  %s\n' \
    shape sent stored sink_msg/s snare_msg/s ratio RSS_MiB raw_MiB RSS/raw dRSS/raw rounds
for shape in "${SHAPES[@]}"; do
    printf '%-10s %6s %6s %10s %11s %6s %8s %8s %8s %9s  %s\n' \
        "$shape" "${COUNT[$shape]}" "${STORED[$shape]:-?}" "${SINK_RATE[$shape]:-?}" "${SNARE_RATE[$shape]:-?}" \
        "${RATIO[$shape]:-?}" "$(fdiv "${RSS[$shape]:-0}" 1024)" "$(fdiv "${RAW[$shape]:-0}" 1048576)" \
        "${RSSRATIO[$shape]:-?}" "${GROWTH[$shape]:-?}" "${ROUND_RATIOS[$shape]:-}"
done

if (( FAILED )); then
    echo "FAILED (see messages above)" >&2
    exit 1
fi
