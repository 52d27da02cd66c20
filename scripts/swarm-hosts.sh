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

HOSTS=(1 2 3)
RUN=/run/tfnz-swarm
DATA=/var/lib/tfnz-swarm
LOGS=/var/log/tfnz-swarm
TLS=$RUN/tls
SW=tfnz-ssw
GUARD=10.254.0.0/15
PORT=2376
OVERLAY=tfnz
OVERLAY_SUBNET=10.255.192.0/20
SWARM_POOL=10.255.128.0/18

log() { echo "[swarm-hosts] $*" >&2; }
ns() { echo "tfnz-s$1"; }
addr() { echo "10.254.0.$((10 + $1))"; }
sock() { echo "$RUN/s$1.sock"; }
engine_url() { echo "https://$(addr "$1"):$PORT?certs=$TLS"; }
d() { local n=$1; shift; docker -H "unix://$(sock "$n")" "$@"; }
answers() { d "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
daemon_pid() { local f=$RUN/s$1.pid; [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"; }
has_ns() { ip netns list | grep -qw "$1"; }
swarm_state() { d "$1" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo none; }
node_id() { d "$1" info --format '{{.Swarm.NodeID}}'; }

# A throwaway CA, one server certificate per host address and one client certificate (EC keys:
# RSA key generation takes seconds on a busy 2-core machine).
make_certs() {
  [ -s "$TLS/key.pem" ] && return 0
  mkdir -p "$TLS" && chmod 700 "$TLS"
  (
    cd "$TLS"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj "/CN=tfnz swarm CA" -keyout ca-key.pem -out ca.pem 2>/dev/null
    for n in "${HOSTS[@]}"; do
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$(addr "$n")" -keyout "s$n-key.pem" -out "s$n.csr" 2>/dev/null
      printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$(addr "$n")" >"s$n.ext"
      openssl x509 -req -in "s$n.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 -extfile "s$n.ext" -out "s$n-cert.pem" 2>/dev/null
    done
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=tfnz location" -keyout key.pem.tmp -out client.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 -extfile client.ext -out cert.pem 2>/dev/null
    rm -f ./*.csr ./*.ext ca.srl
    mv key.pem.tmp key.pem # last: its presence says the set is complete
  )
}

# The switch namespace with its bridge (a bridge in the root namespace would go through the main
# engine's FORWARD chain, which drops it), and the root namespace's own port on it.
make_switch() {
  ip route show type unreachable | grep -q "^unreachable $GUARD" || ip route add unreachable "$GUARD"
  has_ns "$SW" || ip netns add "$SW"
  ip -n "$SW" link show br0 >/dev/null 2>&1 || ip -n "$SW" link add br0 type bridge
  ip -n "$SW" link set br0 up
  if ! ip link show tfnz-sroot >/dev/null 2>&1; then
    ip link add tfnz-sroot type veth peer name root netns "$SW"
    ip addr add 10.254.0.1/24 dev tfnz-sroot
  fi
  ip -n "$SW" link set root master br0 up
  ip link set tfnz-sroot up
}

make_host() {
  local n=$1 h; h=$(ns "$n")
  has_ns "$h" || ip netns add "$h"
  if ! ip -n "$h" link show eth0 >/dev/null 2>&1; then
    ip -n "$SW" link add "s$n" type veth peer name eth0 netns "$h"
    ip -n "$h" addr add "$(addr "$n")/24" dev eth0
  fi
  ip -n "$SW" link set "s$n" master br0 up
  ip -n "$h" link set lo up
  ip -n "$h" link set eth0 up
  # Forwarding on before dockerd starts, or it may set this namespace's FORWARD policy to DROP.
  ip netns exec "$h" sysctl -qw net.ipv4.ip_forward=1
  ip -n "$h" route show type unreachable | grep -q "^unreachable $GUARD" || ip -n "$h" route add unreachable "$GUARD"
}

start_engine() {
  local n=$1 h; h=$(ns "$n")
  answers "$n" && return 0
  if ! daemon_pid "$n" >/dev/null; then
    mkdir -p "$DATA/s$n" "$LOGS"
    rm -f "$(sock "$n")" "$RUN/s$n.pid"
    # Its own config file: its own key (so its own engine id), and not /etc/docker/daemon.json.
    printf '{ "deprecated-key-path": "%s" }\n' "$DATA/s$n/key.json" >"$RUN/s$n.json"
    # `ip netns exec` gives a fresh /sys without the cgroup v1 hierarchies dockerd needs: mount them
    # in this process's own mount namespace, set the host name (the node's name), then run dockerd.
    setsid ip netns exec "$h" unshare --uts -- sh -c '
      set -e
      mount -t tmpfs cgroup /sys/fs/cgroup
      for c in cpu cpuacct cpuset memory devices freezer blkio pids; do
        mkdir -p /sys/fs/cgroup/$c && mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
      done
      mkdir -p /sys/fs/cgroup/systemd && mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
      hostname "$0"
      exec "$@"' "tfnz-s$n" \
      dockerd \
      --host "unix://$(sock "$n")" \
      --host "tcp://$(addr "$n"):$PORT" \
      --tlsverify --tlscacert "$TLS/ca.pem" --tlscert "$TLS/s$n-cert.pem" --tlskey "$TLS/s$n-key.pem" \
      --data-root "$DATA/s$n" \
      --exec-root "$RUN/s$n-exec" \
      --pidfile "$RUN/s$n.pid" \
      --config-file "$RUN/s$n.json" \
      --bip "10.255.$((16 * n)).1/24" \
      --default-address-pool "base=10.255.$((16 * n + 8)).0/21,size=24" \
      </dev/null >>"$LOGS/s$n.log" 2>&1 9>&- &
  fi
}

wait_engine() {
  local n=$1
  for _ in $(seq 1 240); do answers "$n" && break; sleep 0.25; done
  answers "$n" || { log "engine s$n did not come up in 60 s; see $LOGS/s$n.log"; tail -20 "$LOGS/s$n.log" >&2; return 1; }
}

# Save the local images once, load them into every engine that lacks them, all engines at once.
load_images() {
  local images=() image n loads=()
  for image in busybox:latest nginx:latest; do
    docker image inspect "$image" >/dev/null 2>&1 && images+=("$image")
  done
  [ ${#images[@]} -gt 0 ] || { log "no busybox image on the default engine; run npm run prepare-engine"; return 1; }
  for n in "${HOSTS[@]}"; do
    for image in "${images[@]}"; do
      d "$n" image inspect "$image" >/dev/null 2>&1 || { loads+=("$n"); break; }
    done
  done
  [ ${#loads[@]} -gt 0 ] || return 0
  docker save "${images[@]}" -o "$RUN/images.tar"
  local pids=()
  for n in "${loads[@]}"; do d "$n" load -q -i "$RUN/images.tar" >/dev/null & pids+=($!); done
  local failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  rm -f "$RUN/images.tar"
  [ "$failed" = 0 ] || { log "loading images into the engines failed"; return 1; }
}

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
  [ "$(id -u)" = 0 ] || { log "only root can build the topology"; exit 1; }
  mkdir -p "$RUN" "$DATA"
  mountpoint -q "$DATA" || mount -t tmpfs -o size=4g,mode=700 tfnz-swarm "$DATA"
  make_certs
  make_switch
  for n in "${HOSTS[@]}"; do make_host "$n"; done
  for n in "${HOSTS[@]}"; do start_engine "$n"; done
  for n in "${HOSTS[@]}"; do wait_engine "$n"; done
  load_images
  make_swarm
  label 1
  # The location reaches the manager over TLS across the switch, as it will in production.
  docker -H "tcp://$(addr 1):$PORT" --tlsverify --tlscacert "$TLS/ca.pem" --tlscert "$TLS/cert.pem" --tlskey "$TLS/key.pem" \
    node ls --format '{{.Hostname}}' >/dev/null || { log "the manager does not answer over TLS"; exit 1; }
  manager
}

manager() { answers 1 && engine_url 1; return 0; }

# Stop host N's engine (its containers first) and wait for it; the hosts stop side by side.
stop_engine() {
  local n=$1 pid
  if answers "$n"; then
    local ids; ids=$(d "$n" ps -aq)
    [ -z "$ids" ] || d "$n" rm -f $ids >/dev/null 2>&1 || true
    d "$n" swarm leave --force >/dev/null 2>&1 || true
  fi
  if pid=$(daemon_pid "$n"); then
    kill -TERM "$pid"
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then log "dockerd $pid (s$n) did not stop in 30 s; killing it"; kill -KILL "$pid" || true; fi
  fi
}

remove_host() {
  local n=$1
  if has_ns "$(ns "$n")"; then
    local left; left=$(ip netns pids "$(ns "$n")" 2>/dev/null || true)
    [ -z "$left" ] || kill -KILL $left 2>/dev/null || true
    ip netns del "$(ns "$n")"
  fi
  rm -rf "$DATA/s$n" "$RUN/s$n-exec" "$RUN/s$n.sock" "$RUN/s$n.pid" "$RUN/s$n.json"
}

down() {
  local pids=()
  # Workers first, so the manager is not left waiting for a quorum that is shutting down.
  for n in 2 3; do stop_engine "$n" & pids+=($!); done
  wait "${pids[@]}"
  stop_engine 1
  for n in "${HOSTS[@]}"; do remove_host "$n"; done
  ip link del tfnz-sroot 2>/dev/null || true
  ! has_ns "$SW" || ip netns del "$SW"
  ip route del unreachable "$GUARD" 2>/dev/null || true # last: the guard outlives every other route
  ! mountpoint -q "$DATA" || umount -l "$DATA"
  rm -rf "$RUN" "$DATA"
}

host_arg() {
  local n=${1:-}
  [[ " ${HOSTS[*]} " == *" $n "* ]] || { echo "host must be one of ${HOSTS[*]}" >&2; exit 2; }
  echo "$n"
}

mkdir -p "$RUN"
exec 9>"$RUN.lock"
flock -w 180 9 || { log "could not get $RUN.lock in 180 s"; exit 1; }

case "${1:-}" in
  up) up ;;
  down) down ;;
  manager) manager ;;
  cut) ip -n "$SW" link set "s$(host_arg "${2:-}")" down ;;
  mend) ip -n "$SW" link set "s$(host_arg "${2:-}")" up ;;
  leave) leave "$(host_arg "${2:-}")" ;;
  join) join "$(host_arg "${2:-}")" ;;
  drain) d 1 node update --availability drain "$(node_id "$(host_arg "${2:-}")")" >/dev/null ;;
  active) d 1 node update --availability active "$(node_id "$(host_arg "${2:-}")")" >/dev/null ;;
  *) echo "usage: swarm-hosts.sh up|down|manager|cut N|mend N|leave N|join N|drain N|active N" >&2; exit 2 ;;
esac
