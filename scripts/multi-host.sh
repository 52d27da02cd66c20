#!/usr/bin/env bash
# Three node "hosts" on this one machine, each its own network namespace with its own Docker Engine
# reached over TCP with TLS client certificates, as an operator would run nodes on separate machines.
#
#   scripts/multi-host.sh up          build the topology (idempotent); prints one engine address a line
#   scripts/multi-host.sh down        stop the engines, remove namespaces, veths, routes and data roots
#   scripts/multi-host.sh addresses   print the engine addresses (of hosts that are up)
#   scripts/multi-host.sh cut N       pull host N's cable: its link goes down (dockerd keeps running)
#   scripts/multi-host.sh mend N      plug it back in
#
# Layout (see docs/multi-host.md):
#   namespace tfnz-sw holds bridge br0; root namespace 10.252.0.1 (veth tfnz-root), host N
#   (namespace tfnz-hN) 10.252.0.(10+N) on veth eth0, its peer in tfnz-sw named hN.
#   Host N's containers: 10.253.(16N).0/20 (docker0 --bip 10.253.(16N).1/24, address pool
#   10.253.(16N+8).0/21 in /24s). The data plane is one route per host for that /20 via the host's
#   address, in the root namespace and in every other host. A guard route `unreachable 10.252.0.0/15`
#   comes first, so that no test packet can leave the machine whatever else goes wrong.
#   Engine N: https://10.252.0.(10+N):2376, unix:///run/tfnz-hosts/hN.sock, data root
#   /var/lib/tfnz-hosts/hN (a tmpfs), log /var/log/tfnz-hosts/hN.log. TLS: a throwaway CA in
#   /run/tfnz-hosts/tls; clients use ca.pem, cert.pem and key.pem from there.
# These ranges stay clear of scripts/start-node-engine.sh's bridges (10.(200+N).0.0/24, N <= 50) and of
# Docker's default pools (172.17-31.x, 192.168.x).
# Needs root. Images busybox (and nginx when present) are copied from the default engine, never pulled.
set -euo pipefail

NAME=multi-host
P=h
HOSTS=(1 2 3)
RUN=/run/tfnz-hosts
DATA=/var/lib/tfnz-hosts
LOGS=/var/log/tfnz-hosts
TLS=$RUN/tls
SW=tfnz-sw
ROOT_VETH=tfnz-root
NET=10.252.0
GUARD=10.252.0.0/15
PORT=2376
# shellcheck source=scripts/lib/namespace-hosts.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/namespace-hosts.sh"

subnet() { echo "10.253.$((16 * $1)).0/20"; }

# Host N's containers: docker0 10.253.(16N).1/24 and a pool of /24s in 10.253.(16N+8).0/21, not
# masqueraded (the routes below carry them).
engine_network_args() {
  ENGINE_ARGS=(--bip "10.253.$((16 * $1)).1/24" --default-address-pool "base=10.253.$((16 * $1 + 8)).0/21,size=24" --ip-masq=false)
}

# The data plane: each host's container range via that host, from the root namespace and every host.
make_routes() {
  for n in "${HOSTS[@]}"; do
    ip route replace "$(subnet "$n")" via "$(addr "$n")"
    for m in "${HOSTS[@]}"; do
      [ "$m" = "$n" ] || ip -n "$(ns "$m")" route replace "$(subnet "$n")" via "$(addr "$n")"
    done
  done
}

up() {
  hosts_up
  make_routes
  engines_up
  # The location reaches each engine over TLS across the switch, as it will in production.
  for n in "${HOSTS[@]}"; do
    tls_docker "$n" version --format '{{.Server.Version}}' >/dev/null || { log "engine h$n does not answer over TLS"; exit 1; }
  done
  addresses
}

addresses() {
  for n in "${HOSTS[@]}"; do answers "$n" && engine_url "$n"; done
  return 0
}

down() {
  local pids=()
  # The hosts stop side by side.
  for n in "${HOSTS[@]}"; do stop_engine "$n" & pids+=($!); done
  wait "${pids[@]}"
  for n in "${HOSTS[@]}"; do ip route del "$(subnet "$n")" 2>/dev/null || true; done
  hosts_down
}

take_lock

case "${1:-}" in
  up) up ;;
  down) down ;;
  addresses) addresses ;;
  cut) link "${2:-}" down ;;
  mend) link "${2:-}" up ;;
  *) echo "usage: multi-host.sh up|down|addresses|cut N|mend N" >&2; exit 2 ;;
esac
