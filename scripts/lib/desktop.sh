# Sourced by scripts: what building and testing the desktop app (Tauri 2, WebKitGTK)
# needs — the Debian packages, tauri-driver for the WebDriver tests — and the build.
# Idempotent: what is installed already is left alone.

ensure_desktop_deps() {
  # The build (WebKitGTK, icons, xdo), running headless (Xvfb, a session bus),
  # WebDriver (WebKitWebDriver), notifications (dunst), the tray as a panel sees it
  # (gdbus) and screenshots (ImageMagick).
  ensure_packages libwebkit2gtk-4.1-dev build-essential pkg-config libssl-dev \
    librsvg2-dev libxdo-dev xvfb xauth webkit2gtk-driver \
    dbus-x11 dunst libglib2.0-bin imagemagick
  ensure_server_deps
  if ! command -v tauri-driver >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/tauri-driver" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v tauri-driver >/dev/null 2>&1; then
    log "installing tauri-driver"
    cargo install tauri-driver --version '^2' --locked
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
}

# The front end's files (ui/dist), which the desktop binary embeds when it is compiled:
# built (type-checked, bundled, checked against the CSP) before any cargo build.
build_ui() {
  ensure_ui_deps
  log "building the UI"
  npm run --silent build
}
