# Sourced by scripts/*: the desktop UI's toolchain (Node.js 20+ and the npm packages
# locked in package-lock.json).

ensure_ui_deps() {
  if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
    ensure_packages nodejs npm
  fi
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || { echo "Node.js 20 or newer is needed (found $(node --version))" >&2; return 1; }
  # npm ci only when the lock changed since the last install.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing the UI's npm packages"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}
