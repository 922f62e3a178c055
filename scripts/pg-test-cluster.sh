# Sourced by test-all.sh: start_pg_cluster / stop_pg_cluster manage a private PostgreSQL
# cluster on 127.0.0.1 under a temporary directory and set TEST_DATABASE_URL. If PostgreSQL
# cannot start, the run fails: nothing is skipped silently.

pg_bin_dir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  done
  dirname "$(command -v pg_ctl)"
}

start_pg_cluster() {
  local bin port
  bin=$(pg_bin_dir)
  PG_DIR=$(mktemp -d /tmp/scimd-pg.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # initdb and postgres refuse to run as root: run them as the unprivileged 'postgres' user
  # (created by the Debian package) or 'nobody'.
  local runas=""
  if [ "$(id -u)" = 0 ]; then
    if id postgres >/dev/null 2>&1; then runas=postgres; else runas=nobody; fi
    chown "$runas" "$PG_DIR"
  fi
  run() { if [ -n "$runas" ]; then su -s /bin/sh "$runas" -c "$*"; else sh -c "$*"; fi; }
  run "'$bin/initdb' -D '$PG_DIR/data' -U scimd --auth=trust -E UTF8 >'$PG_DIR/initdb.log' 2>&1" \
    || { cat "$PG_DIR/initdb.log"; echo "PostgreSQL initdb failed" >&2; exit 1; }
  run "'$bin/pg_ctl' -D '$PG_DIR/data' -l '$PG_DIR/server.log' -w -t 60 \
       -o \"-c listen_addresses=127.0.0.1 -p $port -k '$PG_DIR' -c fsync=off -c max_connections=300\" start" >/dev/null \
    || { cat "$PG_DIR/server.log"; echo "PostgreSQL failed to start" >&2; exit 1; }
  PG_BIN=$bin
  PG_RUNAS=$runas
  TEST_DATABASE_URL="postgres://scimd@127.0.0.1:$port/postgres"
  echo "PostgreSQL test cluster on port $port ($PG_DIR)"
}

stop_pg_cluster() {
  [ -n "${PG_DIR:-}" ] || return 0
  if [ -n "${PG_RUNAS:-}" ]; then
    su -s /bin/sh "$PG_RUNAS" -c "'$PG_BIN/pg_ctl' -D '$PG_DIR/data' -m immediate stop" >/dev/null 2>&1 || true
  else
    "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PG_DIR"
}
