#!/usr/bin/env bash
# A network namespace for a client program on this machine but not on its network stack
# (spec/e2e/local-location-tunnels.spec.ts): one veth pair, 10.254.17.1 on this side (where a
# location listens) and 10.254.17.2 inside, no other route. Containers' private addresses are not
# reachable from inside, as from another machine. Needs root.
#   up    make it (idempotent); prints the namespace's name
#   down  remove it (idempotent)
set -euo pipefail
NS=tfnz-netns-client
OUTER=tfnz-nsc0
INNER=tfnz-nsc1
case "${1:-}" in
  up)
    if ! ip netns list | grep -qw "$NS"; then ip netns add "$NS"; fi
    if ! ip link show "$OUTER" >/dev/null 2>&1; then
      ip link add "$OUTER" type veth peer name "$INNER" netns "$NS"
      ip addr add 10.254.17.1/30 dev "$OUTER"
      ip netns exec "$NS" ip addr add 10.254.17.2/30 dev "$INNER"
    fi
    ip link set "$OUTER" up
    ip netns exec "$NS" ip link set "$INNER" up
    ip netns exec "$NS" ip link set lo up
    echo "$NS"
    ;;
  down)
    ip link del "$OUTER" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
