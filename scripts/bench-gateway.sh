#!/usr/bin/env bash
# bench-gateway.sh: redis-benchmark through the gateway, against the store
# behind it directly, and against redis-server, in the same run, on
# loopback; prints median throughput and the gateway/store and
# gateway/redis ratios.
#
# The DC is `vasto dev` with one store (and NATS and the master) and a
# `vasto gateway` process in front of it; the gateway's keyspace "default"
# has one shard and one replica, which is also what a connection to the
# store selects by default, so both paths reach the same shard: the
# difference is the gateway's hop (parse, route, one pipelined batch per
# store, reply). Besides throughput it reports the CPU time each process
# used per request (from /proc/PID/stat, SET and GET runs together), which
# a loaded machine disturbs less than throughput. Every process is started
# here on free loopback ports with its data in a fresh temp dir, and
# exactly those PIDs are stopped on exit.
#
# Environment (defaults): as scripts/bench-server.sh (ROUNDS=3, N=200000,
# PIPELINES="1 16", CLIENTS=50, DATASIZE=100, KEYSPACE=1000000,
# VASTO_BIN=bin/vasto, STARTUP_TIMEOUT=30, RUN_TIMEOUT=600), and
#   SHARDS=1            shards of the gateway's keyspace (all on the one store)
set -euo pipefail

SHARDS=${SHARDS:-1}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=bench-gateway
# shellcheck source=scripts/bench-lib.sh
source "$root/scripts/bench-lib.sh"
[[ $SHARDS =~ ^[1-9][0-9]*$ ]] || die "SHARDS must be a positive integer, got '$SHARDS'"
command -v redis-cli >/dev/null 2>&1 || die "redis-cli not found (run: make bench-deps)"

mkdir -p "$tmp/dev" "$tmp/redis"
nats_port=$(pick_port) || die "no free port for NATS"
start store "$nats_port" "$VASTO_BIN" dev --dir "$tmp/dev" --stores 1 --nats-port "$nats_port" \
	--store-port @PORT@ --gateway-port -1
store_port=$started_port store_pid=$started_pid
timeout 30 "$VASTO_BIN" keyspace create default --shards "$SHARDS" --replicas 1 \
	--nats "nats://127.0.0.1:$nats_port" --dc dc1 >/dev/null || die "could not create the keyspace"
start gateway "$store_port" "$VASTO_BIN" gateway --nats "nats://127.0.0.1:$nats_port" --dc dc1 \
	--listen "127.0.0.1:@PORT@" --log-level warn
gateway_port=$started_port gateway_pid=$started_pid
start redis "$gateway_port" redis-server --save '' --appendonly no --port @PORT@ --bind 127.0.0.1 --dir "$tmp/redis"
redis_port=$started_port
# probe PORT NAME: bounded wait until SET answers OK.
probe() {
	local got i
	for ((i = 0; i < STARTUP_TIMEOUT * 10; i++)); do
		got=$(timeout 10 redis-cli -h 127.0.0.1 -p "$1" SET bench:probe ok 2>&1 || true)
		[ "$got" = "OK" ] && return 0
		sleep 0.1
	done
	die "$2 answered SET with '$got', expected OK"
}
probe "$gateway_port" gateway
probe "$store_port" store

# cpu_ticks PID: user+system CPU time of PID so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
cpu="$tmp/cpu" # lines: server pipeline gateway_ticks store_ticks
: >"$cpu"

# measure SERVER PORT PIPELINE: bench, and the CPU the gateway and the
# store process used for it.
measure() {
	local g0 s0
	g0=$(cpu_ticks "$gateway_pid") s0=$(cpu_ticks "$store_pid")
	bench "$1" "$2" "$3"
	echo "$1 $3 $(($(cpu_ticks "$gateway_pid") - g0)) $(($(cpu_ticks "$store_pid") - s0))" >>"$cpu"
}

echo "$BENCH_NAME: redis-benchmark -t set,get -d $DATASIZE -r $KEYSPACE -c $CLIENTS -n $N, pipelines: $PIPELINES, rounds: $ROUNDS, $SHARDS shard(s)"
servers=(gateway store redis)
for ((round = 1; round <= ROUNDS; round++)); do
	echo "round $round/$ROUNDS"
	for p in $PIPELINES; do
		# Rotate which server goes first.
		for ((i = 0; i < 3; i++)); do
			s=${servers[$(((i + round) % 3))]}
			case $s in
			gateway) measure gateway "$gateway_port" "$p" ;;
			store) measure store "$store_port" "$p" ;;
			redis) bench redis "$redis_port" "$p" ;;
			esac
		done
	done
done

echo
echo "Median requests/s over $ROUNDS round(s), $N requests each, $CLIENTS clients, ${DATASIZE}-byte values:"
printf '%-4s %8s %12s %12s %12s %14s %14s\n' op pipeline gateway store redis gateway/store gateway/redis
for p in $PIPELINES; do
	for op in SET GET; do
		g=$(median gateway "$p" "$op")
		s=$(median store "$p" "$op")
		r=$(median redis "$p" "$op")
		gs=$(awk -v a="$g" -v b="$s" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
		gr=$(awk -v a="$g" -v b="$r" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
		printf '%-4s %8s %12s %12s %12s %14s %14s\n' "$op" "$p" "$g" "$s" "$r" "$gs" "$gr"
	done
done

# cpu_median SERVER PIPELINE FIELD: median microseconds per request of
# field 3 (gateway) or 4 (store) of the CPU lines.
cpu_median() {
	awk -v s="$1" -v p="$2" -v f="$3" -v hz="$hz" -v n="$N" '$1 == s && $2 == p { printf "%.2f\n", $f * 1e6 / hz / (2 * n) }' "$cpu" |
		sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else print a[int((NR + 1) / 2)] }'
}

echo
echo "CPU time per request, microseconds (SET and GET runs together; medians over the rounds):"
printf '%-8s %8s %10s %10s\n' path pipeline gateway store
for p in $PIPELINES; do
	for s in gateway store; do
		printf '%-8s %8s %10s %10s\n' "$s" "$p" "$(cpu_median "$s" "$p" 3)" "$(cpu_median "$s" "$p" 4)"
	done
done
