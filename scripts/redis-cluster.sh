#!/usr/bin/env bash
# A throwaway Redis Cluster on loopback for @valve/redis's cluster tests (issue 16, item 6).
#
#   scripts/redis-cluster.sh start   # idempotent: starts what is not running, creates the cluster if needed
#   scripts/redis-cluster.sh stop    # shuts the nodes down and removes their data directory
#
# Three primaries and three replicas (one per primary, so a primary can fail over), on 127.0.0.1
# ports VALVE_REDIS_CLUSTER_PORTS (default "7001 7002 7003 7004 7005 7006"; redis-cli --cluster
# create makes the first half primaries). Every node binds 127.0.0.1 only, keeps no data on disk
# (no RDB, no AOF), and runs from a temporary directory (its path in $TMPDIR/valve-redis-cluster.dir).
# A node that died is started again with its nodes.conf, so it rejoins (as a replica if its
# primary failed over meanwhile). Prints the node list for VALVE_REDIS_CLUSTER_NODES. Bounded:
# every wait gives up after 30 s.
set -euo pipefail

PORTS=(${VALVE_REDIS_CLUSTER_PORTS:-7001 7002 7003 7004 7005 7006})
STATE="${TMPDIR:-/tmp}/valve-redis-cluster.dir"
nodes() { local out=(); for p in "${PORTS[@]}"; do out+=("127.0.0.1:$p"); done; (IFS=,; echo "${out[*]}"); }
ping() { redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG; }
info() { redis-cli -h 127.0.0.1 -p "$1" cluster info 2>/dev/null; }
# Every node answers, agrees the cluster is ok, and knows all the others; every replica has
# finished its first sync (a replica that never synced refuses to fail over: "Disconnected from
# master for longer than allowed", so a failover test right after create would find no promotion).
state_ok() {
  local p repl
  for p in "${PORTS[@]}"; do
    info "$p" | grep -q '^cluster_state:ok' || return 1
    info "$p" | grep -q "^cluster_known_nodes:${#PORTS[@]}" || return 1
    repl=$(redis-cli -h 127.0.0.1 -p "$p" info replication 2>/dev/null) || return 1
    if grep -q '^role:slave' <<<"$repl"; then grep -q '^master_link_status:up' <<<"$repl" || return 1; fi
  done
}

start() {
  if state_ok; then nodes; return 0; fi
  command -v redis-server >/dev/null || { echo "redis-server not found (apt-get install redis-server)" >&2; exit 1; }
  local dir fresh=0
  if [ -f "$STATE" ] && [ -d "$(cat "$STATE")" ]; then dir=$(cat "$STATE"); else dir=$(mktemp -d -t valve-redis-cluster.XXXXXX); echo "$dir" > "$STATE"; fi
  for p in "${PORTS[@]}"; do
    ping "$p" && continue
    mkdir -p "$dir/$p"
    redis-server --port "$p" --bind 127.0.0.1 --protected-mode no --daemonize yes \
      --dir "$dir/$p" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --save '' --appendonly no --repl-diskless-sync-delay 0 --logfile "$dir/$p/redis.log" --pidfile "$dir/$p/redis.pid"
  done
  for p in "${PORTS[@]}"; do
    for _ in $(seq 1 300); do ping "$p" && break; sleep 0.1; done
    ping "$p" || { echo "redis node on port $p did not start; see $dir/$p/redis.log" >&2; exit 1; }
  done
  local slots
  slots=$(info "${PORTS[0]}" | sed -n 's/^cluster_slots_assigned:\([0-9]*\).*/\1/p')
  if [ "${slots:-0}" = "0" ]; then
    local args=(); for p in "${PORTS[@]}"; do args+=("127.0.0.1:$p"); done
    local replicas=0; [ "${#PORTS[@]}" -ge 6 ] && replicas=1
    redis-cli --cluster create "${args[@]}" --cluster-replicas "$replicas" --cluster-yes >"$dir/create.log" 2>&1 ||
      { cat "$dir/create.log" >&2; exit 1; }
  fi
  for _ in $(seq 1 300); do state_ok && break; sleep 0.1; done
  state_ok || { echo "the cluster did not reach cluster_state:ok on every node within 30 s (see $dir)" >&2; exit 1; }
  nodes
}

stop() {
  for p in "${PORTS[@]}"; do redis-cli -h 127.0.0.1 -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  if [ -f "$STATE" ]; then rm -rf "$(cat "$STATE")"; rm -f "$STATE"; fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
