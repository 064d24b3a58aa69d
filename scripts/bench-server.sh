#!/usr/bin/env bash
# bench-server.sh: compare a single vasto store with redis-server under
# redis-benchmark, both on loopback, and print median throughput and the
# vasto/redis ratio. Run by `make bench` (after `make build`).
#
# Both servers are started here, on random free loopback ports, with their data
# in a fresh temp dir; exactly those two PIDs are stopped on exit (trap EXIT),
# and the temp dir is removed. Nothing is sent anywhere but 127.0.0.1.
#
# Environment (defaults):
#   ROUNDS=3            rounds; each round runs every pipeline depth on both
#                       servers, alternating which server goes first
#   N=200000            requests per redis-benchmark run (-n)
#   PIPELINES="1 16"    pipeline depths (-P)
#   CLIENTS=50          parallel connections (-c)
#   DATASIZE=100        value size in bytes (-d)
#   KEYSPACE=1000000    random key space (-r)
#   VASTO_BIN=bin/vasto
#   STARTUP_TIMEOUT=30  seconds to wait for each server to accept connections
#   RUN_TIMEOUT=600     seconds allowed for one redis-benchmark run
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=bench-server
# shellcheck source=scripts/bench-lib.sh
source "$root/scripts/bench-lib.sh"

mkdir -p "$tmp/vasto" "$tmp/redis"
start vasto "" "$VASTO_BIN" store --dir "$tmp/vasto" --listen "127.0.0.1:@PORT@"
vasto_port=$started_port
start redis "$vasto_port" redis-server --save '' --appendonly no --port @PORT@ --bind 127.0.0.1 --dir "$tmp/redis"
redis_port=$started_port

# Fail early (and clearly) if vasto does not speak enough RESP for the run.
if command -v redis-cli >/dev/null 2>&1; then
	got=$(timeout 10 redis-cli -h 127.0.0.1 -p "$vasto_port" SET bench:probe ok 2>&1 || true)
	[ "$got" = "OK" ] || die "vasto answered SET with '$got', expected OK"
	got=$(timeout 10 redis-cli -h 127.0.0.1 -p "$vasto_port" GET bench:probe 2>&1 || true)
	[ "$got" = "ok" ] || die "vasto answered GET with '$got', expected ok"
fi

echo "bench-server: redis-benchmark -t set,get -d $DATASIZE -r $KEYSPACE -c $CLIENTS -n $N, pipelines: $PIPELINES, rounds: $ROUNDS"
for ((round = 1; round <= ROUNDS; round++)); do
	echo "round $round/$ROUNDS"
	for p in $PIPELINES; do
		if ((round % 2)); then order="vasto redis"; else order="redis vasto"; fi
		for s in $order; do
			if [ "$s" = vasto ]; then bench vasto "$vasto_port" "$p"; else bench redis "$redis_port" "$p"; fi
		done
	done
done

echo
echo "Median requests/s over $ROUNDS round(s), $N requests each, $CLIENTS clients, ${DATASIZE}-byte values:"
printf '%-4s %8s %14s %14s %12s\n' op pipeline vasto redis vasto/redis
for p in $PIPELINES; do
	for op in SET GET; do
		v=$(median vasto "$p" "$op")
		r=$(median redis "$p" "$op")
		ratio=$(awk -v v="$v" -v r="$r" 'BEGIN { if (r > 0) printf "%.2f", v / r; else print "n/a" }')
		printf '%-4s %8s %14s %14s %12s\n' "$op" "$p" "$v" "$r" "$ratio"
	done
done
