# Sourced by scripts: a throwaway PostgreSQL cluster for tests, on loopback.
# Sets REAM_TEST_POSTGRES to a maintenance database URL; stop it with pg_stop.
# PostgreSQL refuses to run as root, so as root the cluster runs as `nobody`. Nothing in it
# needs to survive a crash (fsync off), and its write-ahead log is kept small: the suite
# makes a database per test, each copy of the template logged in full.

pg_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$found" ] && [ -x "$found/$name" ] && { echo "$found/$name"; return; }
  return 1
}

pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_start() {
  local initdb pg_ctl
  initdb=$(pg_bin initdb) && pg_ctl=$(pg_bin pg_ctl) || { echo "PostgreSQL binaries not found" >&2; return 1; }
  PG_DIR=$(mktemp -d /tmp/ream-pg.XXXXXX)
  PG_PORT=$(pg_free_port)
  local as=()
  if [ "$(id -u)" = 0 ]; then
    chown nobody "$PG_DIR"
    as=(runuser -u nobody --)
  fi
  "${as[@]}" "$initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  "${as[@]}" "$pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300 -c max_wal_size=96MB -c min_wal_size=32MB" start >/dev/null \
    || { cat "$PG_DIR/server.log" >&2; return 1; }
  PG_AS=("${as[@]}")
  PG_CTL=$pg_ctl
  export REAM_TEST_POSTGRES="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  "${PG_AS[@]}" "$PG_CTL" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=
}
