# Sourced by scripts: runs a command inside a private D-Bus session with an unlocked
# Secret Service (gnome-keyring), as a desktop login would have. The keyring's files live
# in a throwaway directory, so a test run never touches the user's own keyring.

ensure_session_deps() {
  ensure_packages dbus dbus-x11 gnome-keyring
}

# with_keyring_session CMD ARGS…
with_keyring_session() {
  local data
  data=$(mktemp -d /tmp/ream-keyring.XXXXXX)
  dbus-run-session -- bash -c '
    data=$1; shift
    printf "ream-test-keyring" | XDG_DATA_HOME="$data" gnome-keyring-daemon --components=secrets --daemonize --unlock >/dev/null
    "$@"
  ' _ "$data" "$@"
  local status=$?
  rm -rf "$data"
  return $status
}
