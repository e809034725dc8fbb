#!/bin/sh
# Stops the service and the renewal timer before their binary goes; the
# state and the user stay.
set -e
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now mapsdevice-report.service >/dev/null 2>&1 || true
  systemctl disable --now mapsdevice-renew.timer >/dev/null 2>&1 || true
fi
