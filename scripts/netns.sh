#!/usr/bin/env bash
# Runs a command inside a private network namespace with one veth interface and a default route.
# Why: Chromium gathers no WebRTC ICE candidates when loopback is the only interface. Inside the
# namespace the web server, the signaling server and every browser live together, so no packet
# leaves it. Needs root (CI runs as root); already inside one (TABMESH_NETNS=1) it just runs the command.
set -euo pipefail
if [ "${TABMESH_NETNS:-}" = 1 ]; then exec "$@"; fi
if [ "$(id -u)" != 0 ]; then
  echo "scripts/netns.sh: browser tests need root for a private network namespace (unshare -n); run as root or sudo." >&2
  exit 1
fi
exec unshare -n sh -c '
  ip link set lo up
  ip link add v0 type veth peer name v1
  ip addr add 10.99.0.1/24 dev v0
  ip link set v0 up; ip link set v1 up
  ip route add default via 10.99.0.2 dev v0
  export TABMESH_NETNS=1
  exec "$@"' sh "$@"
