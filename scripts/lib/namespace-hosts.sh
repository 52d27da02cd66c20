# Node "hosts" on this one machine, each its own network namespace with its own Docker Engine
# reached over TCP with TLS client certificates: the parts scripts/multi-host.sh and
# scripts/swarm-hosts.sh share. Sourced, not run. The sourcing script sets first:
#   NAME      its name in log lines
#   P         the letter of its hosts: host N is P$N (h1, s1), in namespace tfnz-P$N
#   HOSTS     the host numbers, (1 2 3)
#   RUN DATA LOGS TLS   runtime, data (a tmpfs), log and certificate directories
#   SW        the switch namespace        ROOT_VETH  the root namespace's port on the switch
#   NET       the hosts' /24 without its last byte (the root is NET.1, host N is NET.(10+N))
#   GUARD     the range routed nowhere before anything else     PORT  the engines' TLS port
# and defines engine_network_args N, which sets ENGINE_ARGS to host N's dockerd network options.
# Optional hook: before_engine_stop N (run while host N's engine still answers, before it stops).

log() { echo "[$NAME] $*" >&2; }
ns() { echo "tfnz-$P$1"; }
addr() { echo "$NET.$((10 + $1))"; }
sock() { echo "$RUN/$P$1.sock"; }
engine_url() { echo "https://$(addr "$1"):$PORT?certs=$TLS"; }
d() { local n=$1; shift; docker -H "unix://$(sock "$n")" "$@"; }
answers() { d "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
daemon_pid() { local f=$RUN/$P$1.pid; [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"; }
has_ns() { ip netns list | grep -qw "$1"; }

# A host number from the command line, checked.
host_arg() {
  local n=${1:-}
  [[ " ${HOSTS[*]} " == *" $n "* ]] || { echo "host must be one of ${HOSTS[*]}" >&2; exit 2; }
  echo "$n"
}

# Pull host N's cable (down) or plug it back in (up): dockerd keeps running either way.
link() {
  local n; n=$(host_arg "${1:-}")
  ip -n "$SW" link set "$P$n" "$2"
}

# A throwaway CA, one server certificate per host address and one client certificate (EC keys:
# RSA key generation takes seconds on a busy 2-core machine).
make_certs() {
  [ -s "$TLS/key.pem" ] && return 0
  mkdir -p "$TLS" && chmod 700 "$TLS"
  (
    cd "$TLS"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj "/CN=tfnz $NAME CA" -keyout ca-key.pem -out ca.pem 2>/dev/null
    for n in "${HOSTS[@]}"; do
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$(addr "$n")" -keyout "$P$n-key.pem" -out "$P$n.csr" 2>/dev/null
      printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$(addr "$n")" >"$P$n.ext"
      openssl x509 -req -in "$P$n.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 -extfile "$P$n.ext" -out "$P$n-cert.pem" 2>/dev/null
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
  # Guard first: before any route towards the test ranges exists, they lead nowhere.
  ip route show type unreachable | grep -q "^unreachable $GUARD" || ip route add unreachable "$GUARD"
  has_ns "$SW" || ip netns add "$SW"
  ip -n "$SW" link show br0 >/dev/null 2>&1 || ip -n "$SW" link add br0 type bridge
  ip -n "$SW" link set br0 up
  if ! ip link show "$ROOT_VETH" >/dev/null 2>&1; then
    ip link add "$ROOT_VETH" type veth peer name root netns "$SW"
    ip addr add "$NET.1/24" dev "$ROOT_VETH"
  fi
  ip -n "$SW" link set root master br0 up
  ip link set "$ROOT_VETH" up
}

make_host() {
  local n=$1 h; h=$(ns "$n")
  has_ns "$h" || ip netns add "$h"
  if ! ip -n "$h" link show eth0 >/dev/null 2>&1; then
    ip -n "$SW" link add "$P$n" type veth peer name eth0 netns "$h"
    ip -n "$h" addr add "$(addr "$n")/24" dev eth0
  fi
  ip -n "$SW" link set "$P$n" master br0 up
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
    mkdir -p "$DATA/$P$n" "$LOGS"
    rm -f "$(sock "$n")" "$RUN/$P$n.pid"
    # Its own config file: its own key (so its own engine id), and not /etc/docker/daemon.json.
    printf '{ "deprecated-key-path": "%s" }\n' "$DATA/$P$n/key.json" >"$RUN/$P$n.json"
    engine_network_args "$n"
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
      exec "$@"' "$h" \
      dockerd \
      --host "unix://$(sock "$n")" \
      --host "tcp://$(addr "$n"):$PORT" \
      --tlsverify --tlscacert "$TLS/ca.pem" --tlscert "$TLS/$P$n-cert.pem" --tlskey "$TLS/$P$n-key.pem" \
      --data-root "$DATA/$P$n" \
      --exec-root "$RUN/$P$n-exec" \
      --pidfile "$RUN/$P$n.pid" \
      --config-file "$RUN/$P$n.json" \
      "${ENGINE_ARGS[@]}" \
      </dev/null >>"$LOGS/$P$n.log" 2>&1 9>&- &
  fi
}

wait_engine() {
  local n=$1
  for _ in $(seq 1 240); do answers "$n" && break; sleep 0.25; done
  answers "$n" || { log "engine $P$n did not come up in 60 s; see $LOGS/$P$n.log"; tail -20 "$LOGS/$P$n.log" >&2; return 1; }
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

# Everything up to engines that answer with the local images: data root in memory, certificates,
# switch, hosts, engines (started side by side).
hosts_up() {
  [ "$(id -u)" = 0 ] || { log "only root can build the topology"; exit 1; }
  mkdir -p "$RUN" "$DATA"
  # The engines' data roots live in memory: removing 120 MB of image layers from disk takes ~10 s a host.
  mountpoint -q "$DATA" || mount -t tmpfs -o size=4g,mode=700 "tfnz-$NAME" "$DATA"
  make_certs
  make_switch
  for n in "${HOSTS[@]}"; do make_host "$n"; done
}

engines_up() {
  for n in "${HOSTS[@]}"; do start_engine "$n"; done
  for n in "${HOSTS[@]}"; do wait_engine "$n"; done
  load_images
}

# Docker's client over TLS to host N's engine, as the location reaches it.
tls_docker() {
  local n=$1; shift
  docker -H "tcp://$(addr "$n"):$PORT" --tlsverify --tlscacert "$TLS/ca.pem" --tlscert "$TLS/cert.pem" --tlskey "$TLS/key.pem" "$@"
}

# Stop host N's engine (its containers first) and wait for it.
stop_engine() {
  local n=$1 pid
  if answers "$n"; then
    local ids; ids=$(d "$n" ps -aq)
    [ -z "$ids" ] || d "$n" rm -f $ids >/dev/null 2>&1 || true
    ! declare -F before_engine_stop >/dev/null || before_engine_stop "$n"
  fi
  if pid=$(daemon_pid "$n"); then
    kill -TERM "$pid"
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then log "dockerd $pid ($P$n) did not stop in 30 s; killing it"; kill -KILL "$pid" || true; fi
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
  rm -rf "$DATA/$P$n" "$RUN/$P$n-exec" "$RUN/$P$n.sock" "$RUN/$P$n.pid" "$RUN/$P$n.json"
}

# After the engines stopped: namespaces, the switch, the guard route (last) and the data.
hosts_down() {
  for n in "${HOSTS[@]}"; do remove_host "$n"; done
  ip link del "$ROOT_VETH" 2>/dev/null || true
  ! has_ns "$SW" || ip netns del "$SW"
  ip route del unreachable "$GUARD" 2>/dev/null || true # last: the guard outlives every other route
  ! mountpoint -q "$DATA" || umount -l "$DATA"
  rm -rf "$RUN" "$DATA"
}

# One command at a time per topology: a second caller waits for the first.
take_lock() {
  mkdir -p "$RUN"
  exec 9>"$RUN.lock"
  flock -w 180 9 || { log "could not get $RUN.lock in 180 s"; exit 1; }
}
