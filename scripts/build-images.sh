#!/usr/bin/env bash
# Build the images that README, examples, specs and benchmarks use, without any image registry:
#   busybox  from the distribution's busybox-static binary (about a second)
#   nginx    from a minimal Debian root filesystem with nginx-light (about a minute, once)
# Idempotent: an image that already exists is left alone. DOCKER_HOST selects the engine.
set -euo pipefail

log() { echo "[build-images] $*" >&2; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
need_pkg() {
  command -v "$1" >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || { log "$1 is missing; install package $2"; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! have_image busybox:latest; then
  log "building busybox"
  [ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 && ldd /bin/busybox 2>&1 | grep -q "not a dynamic" \
    || need_pkg busybox busybox-static
  root="$work/busybox"
  mkdir -p "$root"/{bin,etc,tmp,root,var/www}
  cp /bin/busybox "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  chmod 1777 "$root/tmp"
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/bin' --change 'CMD ["sh"]' - busybox:latest >/dev/null
fi

if ! have_image nginx:latest; then
  log "building nginx from a minimal Debian root filesystem (about a minute)"
  need_pkg debootstrap debootstrap
  # Use the mirror this machine's apt already uses, so nothing here names a host.
  mirror=$(grep -hoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | awk '{print $2}' | grep -E '/debian/?$' | head -1 || true)
  root="$work/nginx"
  debootstrap --variant=minbase --include=nginx-light bookworm "$root" ${mirror:+"$mirror"} >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  # Log to the container's stdout/stderr, as the usual nginx image does.
  ln -sf /dev/stdout "$root/var/log/nginx/access.log"
  ln -sf /dev/stderr "$root/var/log/nginx/error.log"
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
  tar -C "$root" -c . | docker import \
    --change 'CMD ["nginx", "-g", "daemon off;"]' --change 'EXPOSE 80' - nginx:latest >/dev/null
fi
log "images ready: busybox nginx"
