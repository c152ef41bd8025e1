# Sourced by .ci/openapi and .ci/browser: builds the server, starts it with the demo data on a
# fresh database (SQLite in the work directory, or fresh PostgreSQL databases when DATABASE_URL
# names a server), and cleans up after. The sourcing script defines `root`, `work`, `backend`,
# `step` and `fail`, and calls `serve_cleanup` from its EXIT trap.

server_pid=""
databases=()
admin_url=""

serve_cleanup() {
  local status=$1
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  for db in "${databases[@]}"; do
    psql "$admin_url" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null ||
      echo "warning: could not drop database $db" >&2
  done
  if [[ $status -ne 0 && -f "$work/server.log" ]]; then
    echo "--- last lines of the server log ($work/server.log kept) ---" >&2
    tail -n 40 "$work/server.log" >&2
  else
    rm -rf "$work"
  fi
}

# Builds the server into $work/pasar (a debug build, as the tests use).
serve_build() {
  step "build the server (a debug build, as the tests use)"
  # The target directory may be shared with other checkouts (CARGO_TARGET_DIR), whose builds also
  # write target/debug/pasar, and cargo does not copy a fresh binary there again. So the binary is
  # relinked (main.rs touched), copied at once, and checked to be this checkout's (its debug info
  # names the directory it was built in).
  local target_dir="${CARGO_TARGET_DIR:-$root/target}"
  bin="$work/pasar"
  for attempt in 1 2 3; do
    touch "$root/crates/pasar/src/main.rs"
    (cd "$root" && cargo build -q -p pasar --bin pasar) || fail "the server does not build"
    cp "$target_dir/debug/pasar" "$bin"
    grep -a -q -F "$root" "$bin" && return 0
    [[ $attempt == 3 ]] && fail "another build keeps replacing $target_dir/debug/pasar"
    echo "another checkout's build replaced the binary; building again"
  done
}

# Starts $work/pasar with the demo data on a free port of 127.0.0.1 and waits for /health; sets
# `base` and `server_pid`. Extra `NAME=value` settings may be given as arguments.
serve_start() {
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  base="http://127.0.0.1:$port"
  local label=${CI_SERVE_LABEL:-ci}
  if [[ $backend == postgresql ]]; then
    admin_url="$DATABASE_URL"
    local suffix shop_db audit_db
    suffix="$(date +%s)_$$"
    shop_db="pasar_${label}_$suffix"
    audit_db="pasar_${label}_audit_$suffix"
    step "fresh PostgreSQL databases $shop_db and $audit_db"
    for db in "$shop_db" "$audit_db"; do
      psql "$admin_url" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null || fail "could not create database $db"
      databases+=("$db")
    done
    with_db() { python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$admin_url" "$1"; }
    export DATABASE_URL AUDIT_DATABASE_URL
    DATABASE_URL=$(with_db "$shop_db")
    AUDIT_DATABASE_URL=$(with_db "$audit_db")
  else
    unset DATABASE_URL PASAR_DATABASE_URL AUDIT_DATABASE_URL PASAR_AUDIT_DATABASE_URL
  fi

  step "start the server with the demo data on $base"
  # The server refuses PASAR_* variables it does not know, and this run wants its own settings:
  # none is inherited.
  for name in $(compgen -e | grep '^PASAR_' || true); do unset "$name"; done
  # Rate limits off so that 429s do not stand in for the answers being checked (the limits are
  # tested by the HTTP tests).
  env PASAR_DATA_DIR="$work/data" PASAR_ADDR="127.0.0.1:$port" PASAR_PUBLIC_URL="$base" \
    PASAR_RATE_LIMIT_PER_MINUTE=0 PASAR_LOGIN_ATTEMPTS_PER_ACCOUNT=0 PASAR_LOGIN_ATTEMPTS_PER_IP=0 \
    PASAR_WEBHOOKS_ALLOW_PRIVATE=true PASAR_LOG_LEVEL=warn "$@" \
    bash -c 'cd "$1" && exec "$2" demo --serve' _ "$work" "$bin" >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 120); do
    curl -sf "$base/health" >/dev/null 2>&1 && return 0
    kill -0 "$server_pid" 2>/dev/null || fail "the server exited while starting"
    sleep 0.5
  done
  fail "the server did not answer /health within 60 s"
}
