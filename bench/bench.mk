# bench/bench.mk: the benchmark. Included by the root Makefile; `make test` runs only bench/'s unit tests.
# bench/ is a Go module of its own (bench/go.mod), so that aws-lambda-go, the floor, stays out of polyboot's.
#
#   make bench              the end-to-end benchmark under AWS's Runtime Interface Emulator (bash, Tcl,
#                           Python 2.7, python3 through polyboot's layer; the aws-lambda-go floor; the
#                           tutorial's curl baseline), profile included; then the Go benchmarks; writes
#                           bench/RESULTS.md and the README's benchmark table. A few minutes on 2 cores.
#   make bench BENCH_N=200  fewer warm invocations per runtime (default 1000; the concurrency row
#                           sends 2/5 of it per N)
#   make bench-go           the Go benchmarks of the codec and the invoke loop alone
#
# Knobs: BENCH_N, BENCH_COLD (fresh starts per runtime), BENCH_ROWS (e.g. pb-bash,curl,concurrency),
# BENCH_CONCURRENCY (the concurrency row's AWS_LAMBDA_MAX_CONCURRENCY values; empty: none; needs root
# and unshare, else reported NOT MEASURED), BENCH_PROFILE=false, BENCH_GOBENCH_TIME (go test
# -benchtime), POLYBOOT_PYTHON (the python3 row).

BENCH_N ?= 1000
BENCH_COLD ?= 11
BENCH_ROWS ?=
BENCH_CONCURRENCY ?= 1,2,4,8
BENCH_PROFILE ?= true
BENCH_GOBENCH_TIME ?= 1s
BENCH_BUILD := $(BUILD)/bench
BENCH_STARTED := $(shell date +%s)

.PHONY: bench bench-go bench-tools

## bench-tools: what the benchmark runs besides the layer
bench-tools:
	mkdir -p $(BENCH_BUILD)/echo-go $(BENCH_BUILD)/echo-go-symbols $(BENCH_BUILD)/bin
	CGO_ENABLED=0 $(GO) -C bench build -trimpath -ldflags "-s -w" -o $(CURDIR)/$(BENCH_BUILD)/echo-go/bootstrap ./cmd/echo-go
	CGO_ENABLED=0 $(GO) -C bench build -trimpath -o $(CURDIR)/$(BENCH_BUILD)/echo-go-symbols/bootstrap ./cmd/echo-go
	CGO_ENABLED=0 $(GO) -C bench build -trimpath -ldflags "-s -w" -o $(CURDIR)/$(BENCH_BUILD)/bin/echo-worker ./cmd/echo-worker
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BENCH_BUILD)/bin/bootstrap-symbols ./cmd/bootstrap
	$(GO) -C bench build -o $(CURDIR)/$(BENCH_BUILD)/bin/polybench ./cmd/polybench

## bench-go: the Go benchmarks (codec, invoke loop against a fake Runtime API)
bench-go:
	mkdir -p $(BENCH_BUILD)
	$(GO) -C bench test -run '^$$' -bench . -benchmem -benchtime $(BENCH_GOBENCH_TIME) . | tee $(BENCH_BUILD)/gobench.txt

## bench: the end-to-end benchmark and the Go benchmarks; writes bench/RESULTS.md and the README's table
bench: layer bench-tools bench-go
	$(BENCH_BUILD)/bin/polybench \
	  -layer $(LAYER_ZIP) -rie "$$($(GO) tool -n aws-lambda-rie)" \
	  -echo-go $(BENCH_BUILD)/echo-go/bootstrap -echo-worker $(BENCH_BUILD)/bin/echo-worker \
	  -profile-bootstrap $(BENCH_BUILD)/bin/bootstrap-symbols -profile-echo-go $(BENCH_BUILD)/echo-go-symbols/bootstrap \
	  -baseline bench/baseline -handlers bench/handlers -work $(BENCH_BUILD) \
	  -interp-layers $(DIST)/polyboot-tcl-$(ARCH).zip,$(DIST)/polyboot-python2-$(ARCH).zip \
	  -gobench $(BENCH_BUILD)/gobench.txt -notes bench/profile-notes.md -out bench/RESULTS.md -readme README.md \
	  -n $(BENCH_N) -cold $(BENCH_COLD) -profile=$(BENCH_PROFILE) -concurrency "$(BENCH_CONCURRENCY)" $(if $(BENCH_ROWS),-rows $(BENCH_ROWS)) \
	  -command "make bench BENCH_N=$(BENCH_N)" -started $(BENCH_STARTED)
