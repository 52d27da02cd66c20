#!/usr/bin/env bash
# Make sure the benchmarks' native tools are installed, from the distribution's packages:
#   wrk          the HTTP load generator the front-door benchmark runs in its own process against
#                every path alike (a C client, so the load costs the shared cores little);
#   nginx-light  the front door's peer, the same Debian nginx the nginx image holds, run by the
#                benchmark as a plain host process like the location (never as a service here).
# Idempotent; safe to run often.
set -euo pipefail

log() { echo "[setup-bench-tools] $*" >&2; }

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  log "${missing[*]} missing and only root can install them here: apt-get install ${missing[*]}, then try again"
  exit 1
fi
log "installing ${missing[*]} from the distribution's packages"
export DEBIAN_FRONTEND=noninteractive
# The nginx package would start a system nginx on port 80; the benchmark starts its own, so keep
# package scripts from starting services during this install (policy-rc.d, Debian's own switch).
policy=/usr/sbin/policy-rc.d
added_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && added_policy=1
fi
trap 'if [ -n "$added_policy" ]; then rm -f "$policy"; fi' EXIT
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
log "installed: ${missing[*]}"
