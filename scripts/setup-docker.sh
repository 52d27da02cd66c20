#!/usr/bin/env bash
# Make sure a Docker Engine answers on /var/run/docker.sock: install it from the distribution's
# packages when missing, start dockerd when it is not running. Idempotent; safe to run often.
set -euo pipefail

log() { echo "[setup-docker] $*" >&2; }

# Tools the specs' extra engines use (scripts/start-node-engine.sh); present on most machines.
missing=()
for tool in ip:iproute2 openssl:openssl pgrep:procps flock:util-linux iptables:iptables; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { log "dockerd is missing; run as root or install Docker Engine yourself"; exit 1; }
  log "installing docker.io from the distribution's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io iptables >/dev/null
fi

if [ "$(id -u)" != 0 ]; then
  log "Docker Engine is not running and only root can start it here: start it (systemctl start docker) and try again"
  exit 1
fi

log "starting dockerd"
mkdir -p /var/log/tfnz
nohup dockerd --host unix:///var/run/docker.sock >/var/log/tfnz/dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && { log "dockerd is up"; exit 0; }
  sleep 0.5
done
log "dockerd did not come up in 30 s; see /var/log/tfnz/dockerd.log"
tail -20 /var/log/tfnz/dockerd.log >&2 || true
exit 1
