# Sourced by scripts: the real printing stack for tests and the demo — the system D-Bus,
# Avahi (ippeveprinter will not start without it) and CUPS, started by hand as there is
# no systemd. Idempotent: whatever already runs is left alone.

ensure_printing_deps() {
  ensure_packages cups cups-bsd cups-client cups-ipp-utils cups-filters avahi-daemon dbus procps
}

printing_start() {
  if ! [ -S /run/dbus/system_bus_socket ] || ! pgrep -x dbus-daemon >/dev/null; then
    as_root mkdir -p /run/dbus
    as_root rm -f /run/dbus/pid
    as_root dbus-daemon --system --fork
  fi
  if ! pgrep -x avahi-daemon >/dev/null; then
    as_root avahi-daemon --no-drop-root --no-rlimits --daemonize
  fi
  if ! pgrep -x cupsd >/dev/null; then
    as_root mkdir -p /run/cups
    # Started by hand (a container, a CI machine): no DNS-SD browsing. The tests add and
    # remove hundreds of queues, and cupsd 2.4.2 has been seen to die in the middle of
    # deleting one while it advertised queues over Avahi.
    as_root sed -i 's/^Browsing Yes$/Browsing No/' /etc/cups/cupsd.conf
    as_root cupsd
  fi
  # cupsd takes a moment to accept requests.
  for _ in $(seq 50); do lpstat -r >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "cupsd did not start" >&2
  return 1
}
