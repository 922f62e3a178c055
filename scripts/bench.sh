#!/usr/bin/env bash
# Benchmarks scimd on this machine: builds the release binaries, starts `scimd serve` on a free
# loopback port with a throw-away data directory, runs scimd-bench against it, prints the
# server's peak resident memory (VmHWM) and stops the server.
#
# Usage: scripts/bench.sh [scimd serve flags…] -- [scimd-bench flags…]
#        scripts/bench.sh [scimd-bench flags…]            (no `--`: every flag goes to scimd-bench)
# e.g.   scripts/bench.sh --sqlite-synchronous full -- --users 10000 --concurrency 16 --json /tmp/b.json
#        scripts/bench.sh -- --scale
# Environment: SKIP_BUILD=1 uses the binaries already in target/release;
#              SCIMD_BIN=path runs another scimd binary (e.g. an older build, to compare);
#              KEEP_DATA=1 keeps the data directory (its path is printed);
#              ACTIVATION_EMAIL=0 creates the service `default` without activation emails before
#              the server starts (in the data directory, or the --database-url given); by default every created user queues an
#              activation email, which the server sends over SMTP to scimd-smtp-sink (started
#              here; an SMTP server that discards what it receives), as in production;
#              MAILER=file sends none and lets the server write .eml files instead.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

server_args=()
bench_args=()
if [[ " $* " == *" -- "* ]]; then
  while [ $# -gt 0 ]; do
    if [ "$1" = "--" ]; then
      shift
      break
    fi
    server_args+=("$1")
    shift
  done
fi
bench_args=("$@")
MAILER=${MAILER:-smtp}
case "$MAILER" in smtp | file) ;; *) echo "bench.sh: MAILER must be smtp or file" >&2; exit 2 ;; esac

# scimd limits requests per token (default 2000/s, far above Entra's rate but far below the
# benchmark's); measure the server, not the limiter, unless the caller set a limit.
if [[ " ${server_args[*]:-} " != *" --rate-limit-per-token"* ]]; then
  server_args+=(--rate-limit-per-token 0)
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building release binaries (scimd, scimd-bench)" >&2
  cargo build --release -p scimd -p scimd-bench
fi
SCIMD="${SCIMD_BIN:-$ROOT/target/release/scimd}"
BENCH="$ROOT/target/release/scimd-bench"
SINK="$ROOT/target/release/scimd-smtp-sink"
for bin in "$SCIMD" "$BENCH" "$SINK"; do
  [ -x "$bin" ] || { echo "bench.sh: $bin is missing (build it, or drop SKIP_BUILD)" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/scimd-bench.XXXXXX")
SERVER_PID=""
SINK_PID=""
cleanup() {
  [ -z "$SINK_PID" ] || kill -TERM "$SINK_PID" 2>/dev/null || true
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "${KEEP_DATA:-0}" = 1 ]; then
    echo "bench.sh: data and server logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

# The store the server uses, for the CLI commands run before it starts: the data directory, or
# the database named by the server's --database-url.
store_args=(--data-dir "$WORK/data")
for ((i = 0; i < ${#server_args[@]}; i++)); do
  case "${server_args[$i]}" in
    --database-url) store_args+=(--database-url "${server_args[$((i + 1))]:-}") ;;
    --database-url=*) store_args+=("${server_args[$i]}") ;;
  esac
done

TOKEN=""
if [ "${ACTIVATION_EMAIL:-1}" = 0 ]; then
  "$SCIMD" service create default --no-activation-email "${store_args[@]}" >/dev/null
  TOKEN=$("$SCIMD" token create --service default --description scimd-bench "${store_args[@]}")
fi

# The SMTP sink's count of messages received so far (it prints it on SIGUSR1).
sink_count() {
  kill -USR1 "$SINK_PID" 2>/dev/null || { echo 0; return; }
  sleep 0.2
  sed -n 's/^received \([0-9]*\) messages$/\1/p' "$WORK/sink.out" | tail -n1
}
if [ "$MAILER" = smtp ] && [ "${ACTIVATION_EMAIL:-1}" != 0 ] && [[ " ${server_args[*]:-} " != *" --smtp-url"* ]]; then
  "$SINK" --listen 127.0.0.1:0 >"$WORK/sink.out" 2>"$WORK/sink.err" &
  SINK_PID=$!
  SINK_ADDR=""
  for _ in $(seq 1 100); do
    SINK_ADDR=$(sed -n 's/^listening on //p' "$WORK/sink.out" | head -n1)
    [ -n "$SINK_ADDR" ] && break
    sleep 0.1
  done
  [ -n "$SINK_ADDR" ] || { echo "bench.sh: scimd-smtp-sink did not start" >&2; cat "$WORK/sink.err" >&2; exit 1; }
  server_args+=(--smtp-url "smtp://$SINK_ADDR")
  echo "== activation emails go to scimd-smtp-sink at $SINK_ADDR" >&2
fi

echo "== starting scimd serve ${server_args[*]:-} (data in $WORK/data)" >&2
"$SCIMD" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" "${server_args[@]}" \
  >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!

ADDR=""
for _ in $(seq 1 300); do
  ADDR=$(sed -n 's|^scimd listening on http://\(.*\)$|\1|p' "$WORK/server.out" | head -n1)
  [ -n "$ADDR" ] && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "bench.sh: scimd exited during start-up:" >&2
    cat "$WORK/server.err" >&2
    exit 1
  fi
  sleep 0.1
done
[ -n "$ADDR" ] || { echo "bench.sh: scimd did not report its address within 30 s" >&2; cat "$WORK/server.err" >&2; exit 1; }
[ -n "$TOKEN" ] || TOKEN=$(sed -n 's|^ *Secret Token: \(scimd_[^ ]*\)$|\1|p' "$WORK/server.out" | head -n1)
[ -n "$TOKEN" ] || { echo "bench.sh: no 'Secret Token:' line in the server's output" >&2; exit 1; }
( umask 077; printf '%s\n' "$TOKEN" >"$WORK/token" )
echo "== scimd (pid $SERVER_PID) listening on http://$ADDR" >&2

# On SQLite the server zero-fills its WAL file while idle, right after start (the WAL reserve,
# docs/architecture.md). Measure once that start-up work is done, as on a server that has been
# running, unless the reserve is off.
reserve_off=0
if [[ " ${server_args[*]:-} " == *" --database-url"* || " ${server_args[*]:-} " == *" --sqlite-wal-reserve-mib 0 "* ||
  " ${server_args[*]:-} " == *" --sqlite-wal-reserve-mib=0 "* || "${SCIMD_SQLITE_WAL_RESERVE_MIB:-}" = 0 ]]; then
  reserve_off=1
fi
if [ "$reserve_off" = 0 ]; then
  for _ in $(seq 1 300); do
    grep -q 'has its reserved space' "$WORK/server.err" && break
    sleep 0.1
  done
  grep -q 'has its reserved space' "$WORK/server.err" ||
    echo "bench.sh: the server did not report its WAL reserve within 30 s; measuring anyway" >&2
fi

set +e
"$BENCH" --url "http://$ADDR/scim/v2" --token-file "$WORK/token" --server-pid "$SERVER_PID" "${bench_args[@]}"
status=$?
set -e

if [ -n "$SINK_PID" ]; then
  # Emails still queued are delivered after the run: wait (up to 60 s) until the count stops.
  during=$(sink_count)
  last=-1
  now=$during
  for _ in $(seq 1 60); do
    [ "$now" = "$last" ] && break
    last=$now
    sleep 0.8
    now=$(sink_count)
  done
  echo "activation emails received by the SMTP sink: ${during:-0} by the end of the run, ${now:-0} in all"
fi

if [ -r "/proc/$SERVER_PID/status" ]; then
  hwm_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")
  rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")
  echo "scimd peak resident memory (VmHWM): $((hwm_kib / 1024)) MiB (${hwm_kib} KiB); resident now: $((rss_kib / 1024)) MiB"
else
  echo "bench.sh: the server is gone; no memory figure" >&2
  status=1
fi
# The server's log: counts of warning/error lines, and the first few (colour codes removed).
plain_log() { sed 's/\x1b\[[0-9;]*m//g' "$WORK/server.err"; }
warn_lines=$(plain_log | grep -c ' WARN ' || true)
error_lines=$(plain_log | grep -c ' ERROR ' || true)
echo "scimd log: ${warn_lines} WARN lines, ${error_lines} ERROR lines"
if [ "$((warn_lines + error_lines))" -gt 0 ]; then
  plain_log | grep -E ' (WARN|ERROR) ' | head -n 5 | cut -c1-240 >&2
fi
exit "$status"
