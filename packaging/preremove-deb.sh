#!/bin/sh
# preremove.sh for the .deb: Debian's helpers stop and disable the units,
# as debhelper's scripts do. An upgrade keeps them as they are.
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
  deb-systemd-invoke stop mapsdevice-report.service mapsdevice-renew.timer >/dev/null || true
  deb-systemd-helper disable mapsdevice-report.service mapsdevice-renew.timer >/dev/null || true
fi
