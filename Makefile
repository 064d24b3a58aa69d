# Vasto build, test, lint and benchmark entry points (GNU make).
#
#   make            same as `make build`
#   make deps       install librocksdb-dev (RocksDB 7.8) if it is missing
#   make build      bin/vasto
#   make test       race tests + a short fuzz pass (FUZZTIME=10s per target);
#                   installs python3-redis for the gateway's redis-py test
#   make fuzz       the same fuzz pass with FUZZTIME=$(FUZZ_LONGTIME) (2m)
#   make lint       go vet, gofmt, golangci-lint, import rules
#   make run        $(RUN_DCS) DCs in one process (per DC: NATS, master, $(RUN_STORES) stores), data in $(RUN_DIR)
#   make bench      go benchmarks + vasto vs redis-server, and the gateway vs the store
#                   behind it vs redis-server (redis-benchmark)
#   make drill      every failover drill once (DRILL_SEED, DRILL_DURATION, DRILL_DIR)
#   make clean      remove bin/ and data/
#
# Set SKIP_DEPS=1 to skip the Debian package checks (e.g. when RocksDB 7.8 was
# installed some other way).

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO ?= go

# Where `go install` puts binaries: $GOBIN, else the first entry of $GOPATH/bin.
GOBIN ?= $(shell $(GO) env GOBIN)
GOPATH_BIN := $(firstword $(subst :, ,$(shell $(GO) env GOPATH)))/bin
ifeq ($(strip $(GOBIN)),)
GOBIN := $(GOPATH_BIN)
endif

GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT_PKG := github.com/golangci/golangci-lint/v2/cmd/golangci-lint

# Fuzz targets as pkgdir:FuzzName. Every target must exist: a missing package
# or fuzz function fails the build.
FUZZ_TARGETS ?= ./lww:FuzzDecodeRecord ./lww:FuzzDecodeChange ./lww:FuzzPeekRecord ./lww:FuzzMerge ./server/resp:FuzzReadCommand ./server/resp:FuzzInline ./server/resp:FuzzReplyReader ./server:FuzzServerCommands
FUZZTIME ?= 10s
# Bounds the minimisation of a new interesting input, so a short fuzz run is
# not cut off in the middle of one (reported as "context deadline exceeded").
FUZZMINTIME ?= 100x
# FUZZTIME used by `make fuzz` (the long fuzzing run).
FUZZ_LONGTIME ?= 2m
TEST_TIMEOUT ?= 14m

RUN_DIR ?= ./data/dev
RUN_STORES ?= 3
RUN_DCS ?= 2

# `make drill`: every drill of `vasto chaos list` once, each against a
# deployment of its own (2 DCs x 3 stores); reports in DRILL_DIR/DRILL-seedS/.
DRILL_SEED ?= 1
DRILL_DURATION ?= 20s
DRILL_DIR ?= ./data/drills
DRILLS ?= store-crash master-loss nats-crash dc-partition wan-degraded clock-skew disk-full resize-under-faults mixed

BENCHTIME ?= 2s
# Passed to scripts/bench-server.sh and scripts/bench-gateway.sh: rounds of redis-benchmark per server and
# pipeline depth, and requests per redis-benchmark run.
ROUNDS ?= 3
N ?= 200000

.PHONY: all deps bench-deps build test fuzz fuzz-run lint run bench drill clean

all: build

deps:
	@DEPS_HINT="vasto needs the RocksDB 7.8 C/C++ headers and shared library (Debian 12: librocksdb-dev 7.8.3; rocksdb/c.h plus librocksdb.so) for github.com/linxGnu/grocksdb v1.7.14 via cgo." \
		bash scripts/ensure-deb-packages.sh librocksdb-dev
	@if [ -r /usr/include/rocksdb/version.h ]; then \
		v=$$(awk '/define ROCKSDB_MAJOR/{ma=$$3} /define ROCKSDB_MINOR/{mi=$$3} END{print ma "." mi}' /usr/include/rocksdb/version.h); \
		if [ "$$v" != "7.8" ]; then \
			echo "deps: WARNING: /usr/include/rocksdb/version.h is RocksDB $$v; grocksdb v1.7.14 expects 7.8" >&2; \
		fi; \
	fi

bench-deps:
	@DEPS_HINT="make bench needs redis-benchmark (redis-tools) and redis-server (redis-server) for the baseline." \
		bash scripts/ensure-deb-packages.sh redis-tools redis-server

build: deps
	$(GO) build -o bin/vasto ./cmd/vasto

test: deps
	@DEPS_HINT="the gateway's redis-py test (internal/e2e) needs Debian's python3-redis; without it the test is skipped." \
		bash scripts/ensure-deb-packages.sh python3-redis || true
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	@$(MAKE) --no-print-directory fuzz-run FUZZTIME=$(FUZZTIME)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-run FUZZTIME=$(FUZZ_LONGTIME)

# Runs every FUZZ_TARGETS entry for FUZZTIME; fails if any target is missing or
# finds a crasher (the failing input is written to PKG/testdata/fuzz/).
fuzz-run:
	@failed=(); \
	for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		if [ -z "$$pkg" ] || [ -z "$$name" ] || [ "$$pkg" = "$$t" ]; then \
			echo "fuzz: bad FUZZ_TARGETS entry '$$t' (want pkgdir:FuzzName)" >&2; failed+=("$$t"); continue; \
		fi; \
		echo "==> fuzz $$pkg $$name for $(FUZZTIME)"; \
		if ! listed=$$($(GO) test -list "^$${name}"'$$' "$$pkg" 2>&1); then \
			echo "$$listed" >&2; echo "fuzz: cannot list tests in $$pkg" >&2; failed+=("$$t"); continue; \
		fi; \
		if ! grep -qx "$$name" <<<"$$listed"; then \
			echo "fuzz: fuzz target $$name not found in $$pkg" >&2; failed+=("$$t"); continue; \
		fi; \
		if ! $(GO) test -run='^$$' -fuzz="^$${name}"'$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINTIME) "$$pkg"; then \
			echo "fuzz: $$t failed; running it once more (an input that made it fail is now in $$pkg/testdata/fuzz and fails again at once; a run cut off at its deadline does not)" >&2; \
			if ! $(GO) test -run='^$$' -fuzz="^$${name}"'$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINTIME) "$$pkg"; then \
				failed+=("$$t"); \
			fi; \
		fi; \
	done; \
	if [ "$${#failed[@]}" -ne 0 ]; then \
		echo "fuzz: FAILED: $${failed[*]}" >&2; exit 1; \
	fi; \
	echo "fuzz: all targets passed ($(FUZZTIME) each)"

lint: deps
	$(GO) vet ./...
	@echo "gofmt -l (excluding vendor/)"; \
	out=$$(find . -type d \( -name vendor -o -name .git \) -prune -o -type f -name '*.go' -print0 | xargs -0 -r gofmt -l); \
	if [ -n "$$out" ]; then \
		echo "gofmt: these files are not formatted (run gofmt -w):" >&2; echo "$$out" >&2; exit 1; \
	fi
	@lint=""; \
	for c in "$(GOBIN)/golangci-lint" "$(GOPATH_BIN)/golangci-lint"; do \
		if [ -x "$$c" ] && "$$c" version 2>/dev/null | grep -q 'version v\?2\.'; then lint="$$c"; break; fi; \
	done; \
	if [ -z "$$lint" ]; then \
		echo "installing golangci-lint $(GOLANGCI_LINT_VERSION) into $(GOBIN)"; \
		GOBIN="$(GOBIN)" $(GO) install $(GOLANGCI_LINT_PKG)@$(GOLANGCI_LINT_VERSION); \
		lint="$(GOBIN)/golangci-lint"; \
	fi; \
	echo "$$lint run ./..."; \
	"$$lint" run ./...
	$(GO) test -count=1 ./internal/archtest/

run: build
	@mkdir -p "$(RUN_DIR)"
	exec ./bin/vasto dev --dir "$(RUN_DIR)" --dcs $(RUN_DCS) --stores $(RUN_STORES)

bench: build bench-deps
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./lww/ ./store/...
	ROUNDS=$(ROUNDS) N=$(N) VASTO_BIN=./bin/vasto bash scripts/bench-server.sh
	ROUNDS=$(ROUNDS) N=$(N) VASTO_BIN=./bin/vasto bash scripts/bench-gateway.sh

drill: build
	@failed=(); \
	for d in $(DRILLS); do \
		echo "==> drill $$d (seed $(DRILL_SEED), $(DRILL_DURATION))"; \
		rm -rf "$(DRILL_DIR)/$$d-seed$(DRILL_SEED)"; \
		if ! ./bin/vasto chaos run "$$d" --seed $(DRILL_SEED) --duration $(DRILL_DURATION) --dir "$(DRILL_DIR)"; then \
			failed+=("$$d"); \
		fi; \
	done; \
	if [ "$${#failed[@]}" -ne 0 ]; then \
		echo "drill: FAILED: $${failed[*]} (reports in $(DRILL_DIR))" >&2; exit 1; \
	fi; \
	echo "drill: every drill passed (reports in $(DRILL_DIR))"

clean:
	rm -rf bin/ data/
