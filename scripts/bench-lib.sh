#!/usr/bin/env bash
# bench-lib.sh: what the redis-benchmark scripts (bench-server.sh,
# bench-gateway.sh) share, sourced by them: parameter checks, a temp dir,
# starting servers on free loopback ports, stopping exactly the PIDs
# started (trap EXIT), one redis-benchmark run and the medians.
#
# The sourcing script sets BENCH_NAME (for messages) and root (the
# repository) before sourcing it; the parameters (ROUNDS, N, PIPELINES,
# CLIENTS, DATASIZE, KEYSPACE, STARTUP_TIMEOUT, RUN_TIMEOUT, VASTO_BIN) take
# their defaults here unless the environment sets them.

ROUNDS=${ROUNDS:-3}
N=${N:-200000}
PIPELINES=${PIPELINES:-1 16}
CLIENTS=${CLIENTS:-50}
DATASIZE=${DATASIZE:-100}
KEYSPACE=${KEYSPACE:-1000000}
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-30}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
VASTO_BIN=${VASTO_BIN:-$root/bin/vasto}

die() {
	echo "$BENCH_NAME: $*" >&2
	exit 1
}

for v in ROUNDS N CLIENTS DATASIZE KEYSPACE STARTUP_TIMEOUT RUN_TIMEOUT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
for p in $PIPELINES; do
	[[ $p =~ ^[1-9][0-9]*$ ]] || die "PIPELINES must hold positive integers, got '$p'"
done
[ -x "$VASTO_BIN" ] || die "$VASTO_BIN not found or not executable (run: make build)"
for c in redis-server redis-benchmark timeout; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found (run: make bench-deps)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vasto-bench.XXXXXX")
pids=()    # exactly the server processes started by this script
bench_pid= # the redis-benchmark run in progress, if any

cleanup() {
	local rc=$? pid i
	trap - EXIT INT TERM
	if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
		kill -TERM "$bench_pid" 2>/dev/null || true
		wait "$bench_pid" 2>/dev/null || true
	fi
	for pid in ${pids[@]+"${pids[@]}"}; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
		fi
	done
	for pid in ${pids[@]+"${pids[@]}"}; do
		# Bounded wait for a clean shutdown, then SIGKILL that same PID.
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "$BENCH_NAME: pid $pid ignored SIGTERM for 10s, sending SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# port_open PORT: does something accept TCP connections on 127.0.0.1:PORT?
port_open() {
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null
}

# pick_port [EXCLUDE]: a random loopback port nothing listens on, below the
# Linux ephemeral range so benchmark client sockets cannot collide with it.
pick_port() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		[ "$p" != "${1:-}" ] || continue
		if ! port_open "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# wait_ready NAME PID PORT LOG: poll (bounded by STARTUP_TIMEOUT) until PORT
# accepts connections; fail early if PID exits.
wait_ready() {
	local name=$1 pid=$2 port=$3 log=$4 i
	for ((i = 0; i < STARTUP_TIMEOUT * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$BENCH_NAME: $name (pid $pid) exited before listening on port $port; log:" >&2
			tail -n 20 "$log" >&2 || true
			return 1
		fi
		if port_open "$port"; then
			# Make sure it is our process that listens, not a squatter.
			if command -v ss >/dev/null 2>&1 && ! ss -Hltnp "sport = :$port" 2>/dev/null | grep -q "pid=$pid,"; then
				echo "$BENCH_NAME: port $port answers but not from $name (pid $pid)" >&2
				return 1
			fi
			return 0
		fi
		sleep 0.1
	done
	echo "$BENCH_NAME: $name (pid $pid) not accepting on port $port after ${STARTUP_TIMEOUT}s; log:" >&2
	tail -n 20 "$log" >&2 || true
	return 1
}

# start NAME EXCLUDE_PORT CMD...: start CMD (with @PORT@ replaced) in the
# background on a free port, retrying with another port if it cannot bind.
# Sets started_pid and started_port.
start() {
	local name=$1 exclude=$2 attempt port pid log arg
	shift 2
	for ((attempt = 1; attempt <= 3; attempt++)); do
		port=$(pick_port "$exclude") || die "no free loopback port found for $name"
		log="$tmp/$name.$attempt.log"
		local argv=()
		for arg in "$@"; do argv+=("${arg//@PORT@/$port}"); done
		"${argv[@]}" >"$log" 2>&1 &
		pid=$!
		pids+=("$pid")
		if wait_ready "$name" "$pid" "$port" "$log"; then
			started_pid=$pid
			started_port=$port
			echo "$BENCH_NAME: $name pid $pid listening on 127.0.0.1:$port"
			return 0
		fi
		if kill -0 "$pid" 2>/dev/null; then
			die "$name did not become ready (pid $pid, log $log)"
		fi
		echo "$BENCH_NAME: retrying $name on another port" >&2
	done
	die "could not start $name"
}

results="$tmp/results" # lines: server pipeline op rps
: >"$results"

# bench SERVER PORT PIPELINE
bench() {
	local server=$1 port=$2 p=$3 out="$tmp/run.out" parsed
	# In the background so that a signal to this script is handled at once
	# (bash defers traps while a foreground child runs).
	timeout "$RUN_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$port" -t set,get \
		-d "$DATASIZE" -r "$KEYSPACE" -c "$CLIENTS" -n "$N" -P "$p" -q >"$out" 2>&1 &
	bench_pid=$!
	if ! wait "$bench_pid"; then
		bench_pid=
		tr '\r' '\n' <"$out" | tail -n 20 >&2
		die "redis-benchmark against $server (port $port, -P $p) failed or timed out"
	fi
	bench_pid=
	# -q prints progress with \r, then e.g. "SET: 81234.56 requests per second, p50=...".
	parsed=$(tr '\r' '\n' <"$out" | awk -F'[: ]+' '/requests per second/ && ($1 == "SET" || $1 == "GET") { print $1, $2 }')
	if ! grep -q '^SET ' <<<"$parsed" || ! grep -q '^GET ' <<<"$parsed"; then
		tr '\r' '\n' <"$out" | tail -n 20 >&2
		die "could not read SET and GET results for $server (-P $p)"
	fi
	while read -r op rps; do
		echo "$server $p $op $rps" >>"$results"
		printf '  %-5s -P %-3s %s %12s req/s\n' "$server" "$p" "$op" "$rps"
	done <<<"$parsed"
}

# median SERVER PIPELINE OP
median() {
	awk -v s="$1" -v p="$2" -v o="$3" '$1 == s && $2 == p && $3 == o { print $4 }' "$results" |
		sort -g |
		awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

