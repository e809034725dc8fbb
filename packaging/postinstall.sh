#!/bin/sh
# Creates the service user and lets systemd see the unit. The service is
# not started: sign in as the user first (see the README).
set -e
if command -v systemd-sysusers >/dev/null 2>&1; then
  systemd-sysusers /usr/lib/sysusers.d/mapsdevice.conf
elif ! id mapsdevice >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/mapsdevice --no-create-home --shell /usr/sbin/nologin mapsdevice
fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi
