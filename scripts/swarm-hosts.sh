#!/usr/bin/env bash
# Three node "hosts" on this one machine formed into one Docker Swarm, as an operator who already
# runs a swarm would hand it to tfnz (`tfnz location --swarm https://10.254.0.11:2376?certs=...`).
#
#   scripts/swarm-hosts.sh up          build the topology (idempotent, ~20 s); prints the manager's address
#   scripts/swarm-hosts.sh down        leave the swarm, stop the engines, remove namespaces, veths, data
#   scripts/swarm-hosts.sh manager     print the manager's engine address (when it is up)
#   scripts/swarm-hosts.sh cut N       pull host N's cable: its link goes down (dockerd keeps running)
#   scripts/swarm-hosts.sh mend N      plug it back in
#   scripts/swarm-hosts.sh leave N     host N leaves the swarm (its engine keeps running)
#   scripts/swarm-hosts.sh join N      host N (re)joins the swarm as a worker
#   scripts/swarm-hosts.sh drain N     set host N's availability to drain (`active N` undoes it)
#
# Layout (see docs/swarm.md). Deliberately apart from scripts/multi-host.sh (tfnz-h*, 10.252.0.0/15)
# and scripts/start-node-engine.sh (10.201-250.x), so both topologies can be up at once:
#   namespace tfnz-ssw holds bridge br0; the root namespace is 10.254.0.1 (veth tfnz-sroot), host N
#   (namespace tfnz-sN) 10.254.0.(10+N) on veth eth0, its peer in tfnz-ssw named sN.
#   Host N's local bridges: docker0 --bip 10.255.(16N).1/24, address pool 10.255.(16N+8).0/21.
#   The swarm's own pool (ingress, other overlays): 10.255.128.0/18; the overlay tfnz uses is `tfnz`,
#   attachable, 10.255.192.0/20 (outside that pool, or the manager cannot allocate it). A guard
#   route `unreachable 10.254.0.0/15` comes first, in the root namespace and in every host,
#   so no test packet can leave the machine. No other routes: the overlay (VXLAN between the hosts'
#   addresses) is the data plane.
#   Engine N: https://10.254.0.(10+N):2376 (TLS, throwaway CA in /run/tfnz-swarm/tls: clients use
#   ca.pem, cert.pem, key.pem), unix:///run/tfnz-swarm/sN.sock, data root /var/lib/tfnz-swarm/sN
#   (a tmpfs), log /var/log/tfnz-swarm/sN.log. s1 is the manager; every node carries the label
#   tfnz.engine=<its engine address> (how the location finds a node's engine) and tfnz.host=sN.
# Needs root. Images busybox (and nginx when present) are copied from the default engine, never pulled.
set -euo pipefail

NAME=swarm-hosts
P=s
HOSTS=(1 2 3)
RUN=/run/tfnz-swarm
DATA=/var/lib/tfnz-swarm
LOGS=/var/log/tfnz-swarm
TLS=$RUN/tls
SW=tfnz-ssw
ROOT_VETH=tfnz-sroot
NET=10.254.0
GUARD=10.254.0.0/15
PORT=2376
OVERLAY=tfnz
OVERLAY_SUBNET=10.255.192.0/20
SWARM_POOL=10.255.128.0/18
# shellcheck source=scripts/lib/namespace-hosts.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/namespace-hosts.sh"

swarm_state() { d "$1" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo none; }
node_id() { d "$1" info --format '{{.Swarm.NodeID}}'; }

# Host N's local bridges: docker0 10.255.(16N).1/24 and a pool of /24s in 10.255.(16N+8).0/21.
engine_network_args() {
  ENGINE_ARGS=(--bip "10.255.$((16 * $1)).1/24" --default-address-pool "base=10.255.$((16 * $1 + 8)).0/21,size=24")
}

# A stopping engine leaves the swarm first.
before_engine_stop() { d "$1" swarm leave --force >/dev/null 2>&1 || true; }

# s1 is the manager; the others join as workers. Labels on each node name its engine.
make_swarm() {
  if [ "$(swarm_state 1)" != active ]; then
    d 1 swarm init --advertise-addr "$(addr 1)" --listen-addr "$(addr 1):2377" --default-addr-pool "$SWARM_POOL" --default-addr-pool-mask-length 24 >/dev/null
  fi
  for n in "${HOSTS[@]}"; do [ "$n" = 1 ] || join "$n"; done
  d 1 network inspect "$OVERLAY" >/dev/null 2>&1 || d 1 network create -d overlay --attachable --subnet "$OVERLAY_SUBNET" "$OVERLAY" >/dev/null
}

join() {
  local n=${1:?host number} token
  [ "$(swarm_state "$n")" = active ] && return 0
  token=$(d 1 swarm join-token -q worker)
  d "$n" swarm join --advertise-addr "$(addr "$n")" --listen-addr "$(addr "$n"):2377" --token "$token" "$(addr 1):2377" >/dev/null
  label "$n"
}

# The node's engine address and host name as swarm node labels (set on the manager).
label() {
  local n=$1
  d 1 node update --label-add "tfnz.engine=https://$(addr "$n"):$PORT" --label-add "tfnz.host=s$n" "$(node_id "$n")" >/dev/null
}

# Host N leaves (a worker's clean exit); the manager forgets the node once it shows down.
leave() {
  local n=${1:?host number} id
  [ "$(swarm_state "$n")" = active ] || return 0
  id=$(node_id "$n")
  d "$n" swarm leave --force >/dev/null
  for _ in $(seq 1 40); do
    [ "$(d 1 node inspect -f '{{.Status.State}}' "$id" 2>/dev/null || echo gone)" != ready ] && break
    sleep 0.25
  done
  d 1 node rm --force "$id" >/dev/null 2>&1 || true
}

up() {
  hosts_up
  engines_up
  make_swarm
  label 1
  # The location reaches the manager over TLS across the switch, as it will in production.
  tls_docker 1 node ls --format '{{.Hostname}}' >/dev/null || { log "the manager does not answer over TLS"; exit 1; }
  manager
}

manager() { answers 1 && engine_url 1; return 0; }

down() {
  local pids=()
  # Workers first, so the manager is not left waiting for a quorum that is shutting down.
  for n in 2 3; do stop_engine "$n" & pids+=($!); done
  wait "${pids[@]}"
  stop_engine 1
  hosts_down
}

take_lock

case "${1:-}" in
  up) up ;;
  down) down ;;
  manager) manager ;;
  cut) link "${2:-}" down ;;
  mend) link "${2:-}" up ;;
  leave) leave "$(host_arg "${2:-}")" ;;
  join) join "$(host_arg "${2:-}")" ;;
  drain) d 1 node update --availability drain "$(node_id "$(host_arg "${2:-}")")" >/dev/null ;;
  active) d 1 node update --availability active "$(node_id "$(host_arg "${2:-}")")" >/dev/null ;;
  *) echo "usage: swarm-hosts.sh up|down|manager|cut N|mend N|leave N|join N|drain N|active N" >&2; exit 2 ;;
esac
