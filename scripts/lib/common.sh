# Sourced by scripts/*: installs what the project needs, idempotently.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "need root (or sudo) to run: $*" >&2; return 1
  fi
}

APT_UPDATED=
# Installs the Debian/Ubuntu packages that are not installed yet.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if [ -z "$APT_UPDATED" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null 2>&1 || {
    echo "cargo not found: install Rust (rustup, 1.90 or newer) first" >&2
    return 1
  }
}

# What building and testing the server needs. mold links the workspace's many test
# binaries in a fraction of GNU ld's time; every script links with it, so they share one
# target folder without rebuilding each other's crates.
ensure_server_deps() {
  # libcups2-dev: the client lists the workstation's own queues (the printers crate);
  # iproute2: the tests read a listening socket's backlog with ss.
  ensure_packages build-essential pkg-config ca-certificates python3 mold libcups2-dev iproute2
  ensure_rust
  export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C link-arg=-fuse-ld=mold"
}

ensure_postgres() {
  # shellcheck source=postgres.sh
  source "$REPO/scripts/lib/postgres.sh"
  pg_bin initdb >/dev/null || ensure_packages postgresql
}
