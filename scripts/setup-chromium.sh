#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the dashboard's browser spec (playwright-core drives
# it through executablePath; no browser is ever downloaded). Idempotent; safe to run often.
set -euo pipefail

log() { echo "[setup-chromium] $*" >&2; }

for candidate in chromium chromium-browser; do
  command -v "$candidate" >/dev/null 2>&1 && exit 0
done
if [ "$(id -u)" != 0 ]; then
  log "chromium is missing and only root can install it here: apt-get install chromium, then try again"
  exit 1
fi
log "installing chromium from the distribution's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
log "chromium is installed: $(command -v chromium)"
