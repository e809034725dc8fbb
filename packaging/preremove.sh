#!/bin/sh
# The .rpm's preremove (the .deb has preremove-deb.sh): stops the service
# and the renewal timer before their binary goes; the state and the user
# stay. rpm passes how many versions remain: 1 on an upgrade, which keeps
# the units as they are.
set -e
[ "$1" = 0 ] || exit 0
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now mapsdevice-report.service >/dev/null 2>&1 || true
  systemctl disable --now mapsdevice-renew.timer >/dev/null 2>&1 || true
fi
