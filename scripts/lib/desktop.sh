# Sourced by scripts: what building and testing the desktop app (Tauri 2, WebKitGTK)
# needs — the Debian packages, tauri-driver for the WebDriver tests — and the build.
# Idempotent: what is installed already is left alone.

ensure_desktop_deps() {
  # The build (WebKitGTK, tray, icons, xdo), running headless (Xvfb, a session bus),
  # WebDriver (WebKitWebDriver), notifications (dunst) and screenshots (ImageMagick).
  ensure_packages libwebkit2gtk-4.1-dev build-essential pkg-config libssl-dev \
    libayatana-appindicator3-dev librsvg2-dev libxdo-dev xvfb xauth webkit2gtk-driver \
    dbus-x11 dunst imagemagick
  ensure_rust
  if ! command -v tauri-driver >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/tauri-driver" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v tauri-driver >/dev/null 2>&1; then
    log "installing tauri-driver"
    cargo install tauri-driver --version '^2' --locked
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
}

# The front end's files (ui/dist), which the desktop binary embeds. Built by npm once
# the UI exists; until then a placeholder page keeps the Rust build possible.
build_ui() {
  local dir=
  if grep -q '"build"[[:space:]]*:' "$REPO/package.json" 2>/dev/null; then dir=$REPO
  elif [ -f "$REPO/ui/package.json" ]; then dir=$REPO/ui
  fi
  if [ -n "$dir" ]; then
    command -v npm >/dev/null 2>&1 || ensure_packages nodejs npm
    log "building the UI"
    (
      cd "$dir"
      if [ ! -d node_modules ]; then
        if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
      fi
      npm run build
    )
  elif [ ! -f "$REPO/ui/dist/index.html" ]; then
    log "no UI yet: a placeholder ui/dist/index.html"
    mkdir -p "$REPO/ui/dist"
    cat >"$REPO/ui/dist/index.html" <<'HTML'
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ream</title></head>
<body><h1>Ream</h1><p>The desktop UI is not built yet.</p></body></html>
HTML
  fi
}
