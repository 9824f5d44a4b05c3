# Sentinel — see README.md. Every target works on a fresh Debian machine with Go.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
PKGS     := ./...
FUZZTIME ?= 20s

.PHONY: all release build test lint fmt vet demo fuzz bench soak deps clean

all: release

release:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/backend ./cmd/backend

build: release

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# The one test command (README, .ci/run): lint, every test with the race detector, every
# benchmark once (so they keep compiling and running), a short fuzz of every parser.
# test/system runs the built binary against a real MariaDB and nginx, pkg/ca's inventory tests
# run against a throwaway PostgreSQL: deps.sh installs them when missing, and
# SENTINEL_SYSTEM_TESTS=1 makes those tests fail, not skip, without them.
test: lint
	scripts/deps.sh mariadb nginx postgres
	SENTINEL_SYSTEM_TESTS=1 $(GO) test -race -count=1 -timeout 15m $(PKGS)
	@echo "every benchmark once (-benchtime=1x)"; \
	  out=$$($(GO) test -run '^$$' -bench . -benchtime=1x -timeout 5m $(PKGS) 2>&1) || { echo "$$out"; exit 1; }
	GO=$(GO) FUZZTIME=3s scripts/fuzz.sh

demo: release
	scripts/demo.sh

# Not in `make test`: SOAK_CONNS short connections over SOAK_DURATION through the built binary
# (test/system TestSoak); goroutines, open files and RSS of relay, server and client must come
# back to their baseline. No -race: the test process only dials, the binary is built without.
SOAK_CONNS    ?= 5000
SOAK_DURATION ?= 150s
soak:
	scripts/deps.sh mariadb nginx
	SENTINEL_SYSTEM_TESTS=1 SENTINEL_SOAK=1 SENTINEL_SOAK_CONNS=$(SOAK_CONNS) SENTINEL_SOAK_DURATION=$(SOAK_DURATION) \
	  $(GO) test -count=1 -v -timeout 30m -run '^TestSoak$$' ./test/system/

# Every Fuzz* target of every package, FUZZTIME each (scripts/fuzz.sh finds them).
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# Throughput, latency, idle cost, MySQL and 50 ms RTT of the built binary against direct TCP and a
# two-hop TLS forwarder; writes docs/BENCHMARKS.md (~12 min; BENCH_QUICK=1 for ~3 min).
bench: release
	scripts/bench.sh

clean:
	rm -rf bin
