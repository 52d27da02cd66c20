#!/usr/bin/env bash
# A private image registry on loopback for specs and benchmarks: Debian's docker-registry (the CNCF
# distribution registry 2.8) with htpasswd authentication behind TLS from a throwaway CA.
#
#   scripts/registry.sh up       install, start and fill it unless it already runs; idempotent
#   scripts/registry.sh down     stop it (its storage, CA and password stay for the next `up`)
#   scripts/registry.sh status   exit 0 when it answers
#   scripts/registry.sh env      print REGISTRY=, REGISTRY_USER=, REGISTRY_PASSWORD=, REGISTRY_CA= lines
#   scripts/registry.sh bench-image   `up`, then push the ~100 MiB bench image unless it is there
#
# It listens on https://127.0.0.1:5443 (TFNZ_REGISTRY_PORT changes the port). The CA is trusted by the
# Docker Engines of this machine only (/etc/docker/certs.d/127.0.0.1:PORT/ca.crt, read by every
# dockerd on the machine, the extra node engines of scripts/start-node-engine.sh included), never by
# the system's trust store. One user, `tfnz`, with a random password made once; `env` prints it.
# State in /var/lib/tfnz-registry (ca.pem, cert.pem, key.pem, htpasswd, password, config-PORT.yml,
# storage/), log in /var/log/tfnz/registry.log, pid in /run/tfnz/registry-PORT.pid. Needs root.
#
# Images (built locally from busybox:latest, never pulled), each pushed once:
#   127.0.0.1:5443/tfnz/busybox:1     busybox as it is (small; for specs), by `up`
#   127.0.0.1:5443/tfnz/bench:100m    busybox plus four layers of 25 MiB of random bytes, by
#                                     `bench-image` (about 45 s the first time; bench/registry-pull.ts)
# Neither stays tagged on the default engine, so that a pull of them is a real pull. Works from any
# checkout or worktree: it needs nothing but itself and busybox:latest.
set -euo pipefail

port=${TFNZ_REGISTRY_PORT:-5443}
host=127.0.0.1:$port
state=/var/lib/tfnz-registry
pidfile=/run/tfnz/registry-$port.pid
logfile=/var/log/tfnz/registry.log
certs_d=/etc/docker/certs.d/$host
user=tfnz

log() { echo "[registry] $*" >&2; }
password() { cat "$state/password"; }
answers() {
  # 401 without credentials proves both TLS (verified against our CA) and authentication are on.
  [ -s "$state/ca.pem" ] || return 1
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$state/ca.pem" "https://$host/v2/")" = 401 ]
}
daemon_pid() { [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && cat "$pidfile"; }

install_packages() {
  local missing=()
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || { log "missing ${missing[*]}; run as root"; exit 1; }
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The package's own service listens on :5000 without TLS; ours replaces it.
stop_distro_service() {
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
    systemctl stop docker-registry || true
    systemctl disable docker-registry >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/docker-registry ]; then
    /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
  fi
}

make_state() {
  mkdir -p "$state/storage" /run/tfnz /var/log/tfnz
  chmod 700 "$state"
  if [ ! -s "$state/key.pem" ]; then
    (
      cd "$state"
      openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=tfnz test registry CA" -keyout ca-key.pem -out ca.pem 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout key.pem -out server.csr 2>/dev/null
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 365 -extfile server.ext -out cert.pem 2>/dev/null
      rm -f server.csr server.ext ca.srl
    )
  fi
  if [ ! -s "$state/password" ]; then
    (umask 077; openssl rand -hex 16 >"$state/password")
  fi
  htpasswd -Bbc "$state/htpasswd" "$user" "$(password)" 2>/dev/null
  cat >"$state/config-$port.yml" <<EOF
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: $state/storage
  delete:
    enabled: true
http:
  addr: $host
  tls:
    certificate: $state/cert.pem
    key: $state/key.pem
auth:
  htpasswd:
    realm: tfnz-test-registry
    path: $state/htpasswd
EOF
  mkdir -p "$certs_d"
  cp "$state/ca.pem" "$certs_d/ca.crt"
}

start() {
  install_packages
  stop_distro_service
  make_state
  if ! answers; then
    if pid=$(daemon_pid); then kill -TERM "$pid" 2>/dev/null || true; fi
    nohup docker-registry serve "$state/config-$port.yml" >>"$logfile" 2>&1 9>&- &
    echo $! >"$pidfile"
    for _ in $(seq 1 60); do answers && break; sleep 0.25; done
    answers || { log "did not answer on https://$host in 15 s; see $logfile"; tail -20 "$logfile" >&2; exit 1; }
    log "up at https://$host"
  fi
  push_images
}

has_manifest() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$state/ca.pem" -u "$user:$(password)" \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "https://$host/v2/$1/manifests/$2")" = 200 ]
}

# A docker login of its own, never the user's ~/.docker/config.json.
docker_as_registry_user() {
  local cfg="$state/docker-config"
  mkdir -p "$cfg"
  [ -s "$cfg/config.json" ] && grep -q "$host" "$cfg/config.json" ||
    password | docker --config "$cfg" login -u "$user" --password-stdin "$host" >/dev/null 2>&1
  docker --config "$cfg" "$@"
}

push_images() {
  docker image inspect busybox:latest >/dev/null 2>&1 || { log "busybox:latest is missing: run scripts/build-images.sh first"; exit 1; }
  if ! has_manifest tfnz/busybox 1; then
    docker tag busybox:latest "$host/tfnz/busybox:1"
    docker_as_registry_user push -q "$host/tfnz/busybox:1" >/dev/null
    docker rmi "$host/tfnz/busybox:1" >/dev/null
    log "pushed $host/tfnz/busybox:1"
  fi
}

push_bench_image() {
  if ! has_manifest tfnz/bench 100m; then
    log "building and pushing $host/tfnz/bench:100m (100 MiB of random bytes in four layers)"
    local ctx
    ctx=$(mktemp -d)
    for i in 1 2 3 4; do head -c 25M /dev/urandom >"$ctx/blob$i"; done
    printf 'FROM busybox:latest\nCOPY blob1 /data/\nCOPY blob2 /data/\nCOPY blob3 /data/\nCOPY blob4 /data/\n' >"$ctx/Dockerfile"
    DOCKER_BUILDKIT=0 docker build -q 2>/dev/null -t "$host/tfnz/bench:100m" "$ctx" >/dev/null
    rm -rf "$ctx"
    docker_as_registry_user push -q "$host/tfnz/bench:100m" >/dev/null
    docker rmi "$host/tfnz/bench:100m" >/dev/null
    log "pushed $host/tfnz/bench:100m"
  fi
}

stop() {
  if pid=$(daemon_pid); then
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" || true
  fi
  rm -f "$pidfile"
}

# `up` from several spec runs at once: one at a time.
mkdir -p /run/tfnz
exec 9>/run/tfnz/registry.lock
flock -w 300 9 || { log "could not get /run/tfnz/registry.lock in 300 s"; exit 1; }

case "${1:-up}" in
  up) start ;;
  bench-image) start && push_bench_image ;;
  down) stop ;;
  status) answers ;;
  env)
    answers || { log "not running: scripts/registry.sh up"; exit 1; }
    echo "REGISTRY=$host"
    echo "REGISTRY_USER=$user"
    echo "REGISTRY_PASSWORD=$(password)"
    echo "REGISTRY_CA=$state/ca.pem"
    ;;
  *) echo "usage: registry.sh up|down|status|env|bench-image" >&2; exit 2 ;;
esac
