#!/usr/bin/env bash
# Run an extra Docker Engine on this machine, to be one more node of a location:
#
#   scripts/start-node-engine.sh N          start engine N (1-50) unless it already runs; idempotent
#   scripts/start-node-engine.sh N kill     SIGKILL its dockerd: an abrupt departure (containers are orphaned)
#   scripts/start-node-engine.sh N stop     remove every container on it, stop it and wait until it is gone
#   scripts/start-node-engine.sh N status   exit 0 when it answers
#
# Engine N has its own socket unix:///run/tfnz/nodeN.sock, data root /var/lib/tfnz-nodeN, exec root
# /run/tfnz-nodeN-exec, pid file /run/tfnz/nodeN.pid, bridge tfnzbrN (10.(200+N).0.1/24) and log
# /var/log/tfnz/nodeN.log. It also listens with TLS (client certificates required) on
# https://127.0.0.1:(23700+N), certificates made here in /run/tfnz/nodeN-tls (ca.pem, cert.pem and
# key.pem for clients; see lib/engines/engine-address.ts). Images busybox (and nginx when present)
# are copied from the default engine with docker save | docker load, never pulled. Needs root.
# Prints the engine's unix address.
set -euo pipefail

n=${1:?usage: start-node-engine.sh N [start|stop|kill|status]}
action=${2:-start}
[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 50 ] || { echo "N must be 1-50" >&2; exit 2; }

sock=/run/tfnz/node$n.sock
addr=unix://$sock
pidfile=/run/tfnz/node$n.pid
bridge=tfnzbr$n
logfile=/var/log/tfnz/node$n.log
tlsdir=/run/tfnz/node$n-tls
tlsport=$((23700 + n))
log() { echo "[node-engine $n] $*" >&2; }
answers() { docker -H "$addr" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
daemon_pid() { [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && cat "$pidfile"; }
wait_exit() {
  local pid=$1
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  return 1
}

# A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, once per engine.
make_certs() {
  [ -s "$tlsdir/key.pem" ] && return 0
  mkdir -p "$tlsdir" && chmod 700 "$tlsdir"
  (
    cd "$tlsdir"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=tfnz node $n CA" -keyout ca-key.pem -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server-key.pem -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 -extfile server.ext -out server-cert.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=tfnz client" -keyout key.pem -out client.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 -extfile client.ext -out cert.pem 2>/dev/null
    rm -f ./*.csr ./*.ext ca.srl
  )
}

# Launch dockerd for engine N (its bridge first) in the background.
launch() {
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge
    ip addr add "10.$((200 + n)).0.1/24" dev "$bridge"
  fi
  ip link set "$bridge" up
  rm -f "$sock" "$pidfile"
  make_certs
  nohup dockerd \
    --host "$addr" \
    --host "tcp://127.0.0.1:$tlsport" \
    --tlsverify --tlscacert "$tlsdir/ca.pem" --tlscert "$tlsdir/server-cert.pem" --tlskey "$tlsdir/server-key.pem" \
    --data-root "/var/lib/tfnz-node$n" \
    --exec-root "/run/tfnz-node$n-exec" \
    --pidfile "$pidfile" \
    --bridge "$bridge" \
    >>"$logfile" 2>&1 9>&- &
  launched=$!
}

start() {
  if answers; then echo "$addr"; return 0; fi
  [ "$(id -u)" = 0 ] || { log "only root can start a Docker Engine"; exit 1; }
  mkdir -p /run/tfnz /var/log/tfnz
  launched=
  if pid=$(daemon_pid); then
    log "dockerd $pid is running but does not answer; waiting for it"
  else
    launch
  fi
  for _ in $(seq 1 240); do
    if answers; then break; fi
    # dockerd gives up by itself when its containerd does not answer in time (seen under load, right
    # after a kill, while containerd takes back the killed engine's containers): once more.
    if [ -n "$launched" ] && ! kill -0 "$launched" 2>/dev/null && [ "${retried:-}" != 1 ]; then
      retried=1
      log "dockerd exited before it answered (see $logfile); starting it once more"
      launch
    fi
    sleep 0.25
  done
  answers || { log "did not come up in 60 s; see $logfile"; tail -20 "$logfile" >&2; exit 1; }
  for image in busybox:latest nginx:latest; do
    docker image inspect "$image" >/dev/null 2>&1 || continue
    docker -H "$addr" image inspect "$image" >/dev/null 2>&1 && continue
    docker save "$image" | docker -H "$addr" load >/dev/null
  done
  log "up at $addr"
  echo "$addr"
}

# dockerds starting at the same moment race on creating shared iptables chains: one at a time.
mkdir -p /run/tfnz
exec 9>/run/tfnz/engines.lock
flock -w 120 9 || { log "could not get /run/tfnz/engines.lock in 120 s"; exit 1; }

case "$action" in
  start) start ;;
  status) answers ;;
  kill)
    if pid=$(daemon_pid); then kill -KILL "$pid"; wait_exit "$pid" || true; fi
    ;;
  stop)
    # A killed engine left its containers to containerd: start it again so it cleans them up.
    if ! answers && pgrep -f "containerd-shim.*/run/tfnz-node$n-exec/" >/dev/null; then start >/dev/null; fi
    if answers; then
      ids=$(docker -H "$addr" ps -aq)
      [ -z "$ids" ] || docker -H "$addr" rm -f $ids >/dev/null 2>&1 || true
    fi
    if pid=$(daemon_pid); then
      kill -TERM "$pid"
      wait_exit "$pid" || { log "dockerd $pid did not stop in 30 s; killing it"; kill -KILL "$pid" || true; }
    fi
    rm -f "$sock" "$pidfile"
    ip link del "$bridge" 2>/dev/null || true
    rm -rf "$tlsdir"
    ;;
  *) echo "unknown action '$action' (start|stop|kill|status)" >&2; exit 2 ;;
esac
