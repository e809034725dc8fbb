#!/bin/sh
# Stops the service before its binary goes; its state and user stay.
set -e
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now mapsdevice-report.service >/dev/null 2>&1 || true
fi
