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

HOSTS=(1 2 3)
RUN=/run/tfnz-hosts
DATA=/var/lib/tfnz-hosts
LOGS=/var/log/tfnz-hosts
TLS=$RUN/tls
SW=tfnz-sw
GUARD=10.252.0.0/15
PORT=2376

log() { echo "[multi-host] $*" >&2; }
ns() { echo "tfnz-h$1"; }
addr() { echo "10.252.0.$((10 + $1))"; }
subnet() { echo "10.253.$((16 * $1)).0/20"; }
sock() { echo "$RUN/h$1.sock"; }
engine_url() { echo "https://$(addr "$1"):$PORT?certs=$TLS"; }
answers() { docker -H "unix://$(sock "$1")" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
daemon_pid() { local f=$RUN/h$1.pid; [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"; }
has_ns() { ip netns list | grep -qw "$1"; }

# A throwaway CA, one server certificate per host address and one client certificate (EC keys:
# RSA key generation takes seconds on a busy 2-core machine).
make_certs() {
  [ -s "$TLS/key.pem" ] && return 0
  mkdir -p "$TLS" && chmod 700 "$TLS"
  (
    cd "$TLS"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj "/CN=tfnz multi-host CA" -keyout ca-key.pem -out ca.pem 2>/dev/null
    for n in "${HOSTS[@]}"; do
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$(addr "$n")" -keyout "h$n-key.pem" -out "h$n.csr" 2>/dev/null
      printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$(addr "$n")" >"h$n.ext"
      openssl x509 -req -in "h$n.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 -extfile "h$n.ext" -out "h$n-cert.pem" 2>/dev/null
    done
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=tfnz location" -keyout key.pem.tmp -out client.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 -extfile client.ext -out cert.pem 2>/dev/null
    rm -f ./*.csr ./*.ext ca.srl
    mv key.pem.tmp key.pem # last: its presence says the set is complete
  )
}

# The switch namespace with its bridge, and the root namespace's own port on it.
make_switch() {
  # Guard first: before any route towards the test ranges exists, they lead nowhere.
  ip route show type unreachable | grep -q "^unreachable $GUARD" || ip route add unreachable "$GUARD"
  has_ns "$SW" || ip netns add "$SW"
  ip -n "$SW" link show br0 >/dev/null 2>&1 || ip -n "$SW" link add br0 type bridge
  ip -n "$SW" link set br0 up
  if ! ip link show tfnz-root >/dev/null 2>&1; then
    ip link add tfnz-root type veth peer name root netns "$SW"
    ip addr add 10.252.0.1/24 dev tfnz-root
  fi
  ip -n "$SW" link set root master br0 up
  ip link set tfnz-root up
}

make_host() {
  local n=$1 h; h=$(ns "$n")
  has_ns "$h" || ip netns add "$h"
  if ! ip -n "$h" link show eth0 >/dev/null 2>&1; then
    ip -n "$SW" link add "h$n" type veth peer name eth0 netns "$h"
    ip -n "$h" addr add "$(addr "$n")/24" dev eth0
  fi
  ip -n "$SW" link set "h$n" master br0 up
  ip -n "$h" link set lo up
  ip -n "$h" link set eth0 up
  # Forwarding on before dockerd starts, or it may set this namespace's FORWARD policy to DROP.
  ip netns exec "$h" sysctl -qw net.ipv4.ip_forward=1
  ip -n "$h" route show type unreachable | grep -q "^unreachable $GUARD" || ip -n "$h" route add unreachable "$GUARD"
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

start_engine() {
  local n=$1 h; h=$(ns "$n")
  answers "$n" && return 0
  if ! daemon_pid "$n" >/dev/null; then
    mkdir -p "$DATA/h$n" "$LOGS"
    rm -f "$(sock "$n")" "$RUN/h$n.pid"
    # Its own config file: its own key (so its own engine id), and not /etc/docker/daemon.json.
    printf '{ "deprecated-key-path": "%s" }\n' "$DATA/h$n/key.json" >"$RUN/h$n.json"
    # `ip netns exec` gives a fresh /sys without the cgroup v1 hierarchies dockerd needs: mount them
    # in this process's own mount namespace, set the host name (the node's name), then run dockerd.
    # setsid: the engine outlives the shell that started it, like a host's service.
    setsid ip netns exec "$h" unshare --uts -- sh -c '
      set -e
      mount -t tmpfs cgroup /sys/fs/cgroup
      for c in cpu cpuacct cpuset memory devices freezer blkio pids; do
        mkdir -p /sys/fs/cgroup/$c && mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
      done
      mkdir -p /sys/fs/cgroup/systemd && mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
      hostname "$0"
      exec "$@"' "tfnz-h$n" \
      dockerd \
      --host "unix://$(sock "$n")" \
      --host "tcp://$(addr "$n"):$PORT" \
      --tlsverify --tlscacert "$TLS/ca.pem" --tlscert "$TLS/h$n-cert.pem" --tlskey "$TLS/h$n-key.pem" \
      --data-root "$DATA/h$n" \
      --exec-root "$RUN/h$n-exec" \
      --pidfile "$RUN/h$n.pid" \
      --config-file "$RUN/h$n.json" \
      --bip "10.253.$((16 * n)).1/24" \
      --default-address-pool "base=10.253.$((16 * n + 8)).0/21,size=24" \
      --ip-masq=false \
      </dev/null >>"$LOGS/h$n.log" 2>&1 9>&- &
  fi
}

wait_engine() {
  local n=$1
  for _ in $(seq 1 240); do answers "$n" && break; sleep 0.25; done
  answers "$n" || { log "engine h$n did not come up in 60 s; see $LOGS/h$n.log"; tail -20 "$LOGS/h$n.log" >&2; return 1; }
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
      docker -H "unix://$(sock "$n")" image inspect "$image" >/dev/null 2>&1 || { loads+=("$n"); break; }
    done
  done
  [ ${#loads[@]} -gt 0 ] || return 0
  docker save "${images[@]}" -o "$RUN/images.tar"
  local pids=()
  for n in "${loads[@]}"; do docker -H "unix://$(sock "$n")" load -q -i "$RUN/images.tar" >/dev/null & pids+=($!); done
  local failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  rm -f "$RUN/images.tar"
  [ "$failed" = 0 ] || { log "loading images into the engines failed"; return 1; }
}

up() {
  [ "$(id -u)" = 0 ] || { log "only root can build the topology"; exit 1; }
  mkdir -p "$RUN" "$DATA"
  # The engines' data roots live in memory: removing 120 MB of image layers from disk takes ~10 s a host.
  mountpoint -q "$DATA" || mount -t tmpfs -o size=4g,mode=700 tfnz-hosts "$DATA"
  make_certs
  make_switch
  for n in "${HOSTS[@]}"; do make_host "$n"; done
  make_routes
  for n in "${HOSTS[@]}"; do start_engine "$n"; done
  for n in "${HOSTS[@]}"; do wait_engine "$n"; done
  load_images
  # The location reaches each engine over TLS across the switch, as it will in production.
  for n in "${HOSTS[@]}"; do
    docker -H "tcp://$(addr "$n"):$PORT" --tlsverify --tlscacert "$TLS/ca.pem" --tlscert "$TLS/cert.pem" --tlskey "$TLS/key.pem" \
      version --format '{{.Server.Version}}' >/dev/null || { log "engine h$n does not answer over TLS"; exit 1; }
  done
  addresses
}

addresses() {
  for n in "${HOSTS[@]}"; do answers "$n" && engine_url "$n"; done
  return 0
}

# Stop host N's engine (its containers first) and wait for it; the hosts stop side by side.
stop_engine() {
  local n=$1 pid
  if answers "$n"; then
    local ids; ids=$(docker -H "unix://$(sock "$n")" ps -aq)
    [ -z "$ids" ] || docker -H "unix://$(sock "$n")" rm -f $ids >/dev/null 2>&1 || true
  fi
  if pid=$(daemon_pid "$n"); then
    kill -TERM "$pid"
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then log "dockerd $pid (h$n) did not stop in 30 s; killing it"; kill -KILL "$pid" || true; fi
  fi
}

remove_host() {
  local n=$1
  # Whatever is left in the namespace (a shim of a killed engine) goes with it.
  if has_ns "$(ns "$n")"; then
    local left; left=$(ip netns pids "$(ns "$n")" 2>/dev/null || true)
    [ -z "$left" ] || kill -KILL $left 2>/dev/null || true
    ip netns del "$(ns "$n")"
  fi
  rm -rf "$DATA/h$n" "$RUN/h$n-exec" "$RUN/h$n.sock" "$RUN/h$n.pid" "$RUN/h$n.json"
}

down() {
  local pids=()
  for n in "${HOSTS[@]}"; do stop_engine "$n" & pids+=($!); done
  wait "${pids[@]}"
  for n in "${HOSTS[@]}"; do remove_host "$n"; done
  for n in "${HOSTS[@]}"; do ip route del "$(subnet "$n")" 2>/dev/null || true; done
  ip link del tfnz-root 2>/dev/null || true
  ! has_ns "$SW" || ip netns del "$SW"
  ip route del unreachable "$GUARD" 2>/dev/null || true # last: the guard outlives every other route
  ! mountpoint -q "$DATA" || umount -l "$DATA"
  rm -rf "$RUN" "$DATA"
}

link() {
  local n=${1:?host number 1-3} state=$2
  [[ " ${HOSTS[*]} " == *" $n "* ]] || { echo "host must be one of ${HOSTS[*]}" >&2; exit 2; }
  ip -n "$SW" link set "h$n" "$state"
}

mkdir -p "$RUN"
exec 9>"$RUN.lock"
flock -w 180 9 || { log "could not get $RUN.lock in 180 s"; exit 1; }

case "${1:-}" in
  up) up ;;
  down) down ;;
  addresses) addresses ;;
  cut) link "${2:-}" down ;;
  mend) link "${2:-}" up ;;
  *) echo "usage: multi-host.sh up|down|addresses|cut N|mend N" >&2; exit 2 ;;
esac
