# polyboot — see README.md. Every target works from a fresh clone with Go installed.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c

ARCH ?= amd64
PORT ?= 9000
GO ?= go
DIST := dist
BUILD := build
LAYER_DIR := $(BUILD)/layer-$(ARCH)
LAYER_ZIP := $(DIST)/polyboot-$(ARCH).zip
# Extras in the runtime layer: each script is run as `script ARCH DESTDIR` and fills DESTDIR
# (bin/, lib/, share/doc/) with files that are merged into the zip beside bootstrap: Debian 11's
# jq, and bash built for a /dev without fd (layer/README.md). Another extra is one more word here.
RUNTIME_EXTRAS := layer/runtime/jq.sh layer/runtime/bash.sh
EXTRAS_DIR := $(BUILD)/runtime-extras-$(ARCH)
# Adapter files that go into the layer: manifests and programs, not tests or examples.
ADAPTER_FILES := $(shell find adapters -path '*/tests' -prune -o -path '*/example' -prune -o -type f \( -name adapter.json -o -name 'adapter.*' -o -name '*.tcl' -o -name '*.py' -o -name '*.sh' \) -print | sort)

.PHONY: all build layer run stop test soak vet fmt-check clean
all: layer

build: $(BUILD)/bootstrap-$(ARCH)

$(BUILD)/bootstrap-$(ARCH): go.mod go.sum $(shell find cmd protocol supervisor registry invoke internal/orphans -name '*.go' -not -name '*_test.go')
	mkdir -p $(BUILD)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build -trimpath -ldflags "-s -w" -o $@ ./cmd/bootstrap

## layer: the runtime layer zip, dist/polyboot-$(ARCH).zip (bootstrap at the root, adapters/ beside it,
## and the RUNTIME_EXTRAS: bin/jq, ...)
layer: $(LAYER_ZIP)

# The extras' downloads go through the shared cache ($(POLYBOOT_CACHE), default build/cache).
$(EXTRAS_DIR)/.done: $(RUNTIME_EXTRAS) layer/runtime/rootfs.sh layer/interpreters/common.sh layer/interpreters/tools.sh
	rm -rf $(EXTRAS_DIR) && mkdir -p $(EXTRAS_DIR)
	for s in $(RUNTIME_EXTRAS); do "$$s" $(ARCH) $(CURDIR)/$(EXTRAS_DIR); done
	touch $@

# A Python 2.7 to compile the Python adapter with (adapters/python2/start.py runs adapter.pyc, so
# that cold starts do not compile adapter.py): python2.7 on PATH, else pyenv's newest 2.7.
# (A pyenv shim on PATH that has no 2.7 selected fails the check and is passed over.)
PYTHON27 ?= $(shell for p in $$(command -v python2.7) $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/2.7*/bin/python2.7 2>/dev/null | sort -rV); do \
  "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (2, 7))' >/dev/null 2>&1 && { echo "$$p"; break; }; done)

$(LAYER_ZIP): $(BUILD)/bootstrap-$(ARCH) $(ADAPTER_FILES) layer/python2/compile.py layer/mkzip/main.go $(EXTRAS_DIR)/.done
	rm -rf $(LAYER_DIR) && mkdir -p $(LAYER_DIR) $(DIST)
	install -m 0755 $(BUILD)/bootstrap-$(ARCH) $(LAYER_DIR)/bootstrap
	for f in $(ADAPTER_FILES); do install -D -m 0644 "$$f" "$(LAYER_DIR)/$$f"; done
	py="$(PYTHON27)"; if [ -n "$$py" ]; then "$$py" layer/python2/compile.py adapters/python2/adapter.py $(LAYER_DIR)/adapters/python2/adapter.pyc; \
	else echo "WARNING: no Python 2.7 found (set PYTHON27=...): the layer has no adapters/python2/adapter.pyc, so Python cold starts compile adapter.py" >&2; fi
	cp -a $(EXTRAS_DIR)/. $(LAYER_DIR)/ && rm -f $(LAYER_DIR)/.done
	$(GO) run ./layer/mkzip -o $@ $(LAYER_DIR)
	$(GO) run ./layer/elfcheck -arch $(ARCH) $@

## run: serve examples/bash/function.sh under AWS's Runtime Interface Emulator and invoke it once
run: layer
	rm -rf $(BUILD)/run && mkdir -p $(BUILD)/run/opt
	unzip -q $(LAYER_ZIP) -d $(BUILD)/run/opt
	$(GO) build -o $(BUILD)/aws-lambda-rie github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
	-[ -f $(BUILD)/run.pid ] && kill "$$(cat $(BUILD)/run.pid)" 2>/dev/null; sleep 0.2
	cd examples/bash; _HANDLER=function.handler nohup ../../$(BUILD)/aws-lambda-rie \
	  --runtime-interface-emulator-address 127.0.0.1:$(PORT) --runtime-api-address 127.0.0.1:$$(($(PORT)+1)) \
	  ../../$(BUILD)/run/opt/bootstrap >../../$(BUILD)/run.log 2>&1 </dev/null & echo $$! >../../$(BUILD)/run.pid
	for i in $$(seq 50); do curl -s -o /dev/null 127.0.0.1:$(PORT) && break; sleep 0.1; done
	@echo "== response:"
	@curl -sS -XPOST http://127.0.0.1:$(PORT)/2015-03-31/functions/function/invocations -d '{"hello":"world"}'; echo
	@echo "== log ($(BUILD)/run.log):"; grep -v '(rapid)' $(BUILD)/run.log || true
	@echo "== the emulator keeps running (pid $$(cat $(BUILD)/run.pid)). Invoke it again with:"
	@echo "   curl -XPOST http://127.0.0.1:$(PORT)/2015-03-31/functions/function/invocations -d '{\"hello\":\"again\"}'"
	@echo "   and stop it with: make stop"

stop:
	-[ -f $(BUILD)/run.pid ] && kill "$$(cat $(BUILD)/run.pid)" && rm -f $(BUILD)/run.pid

## test: vet, format check, every Go test (unit, adapter suites, emulator end to end) with the race
## detector, then the interpreter layers' checks (glibc/closure, namespace, chroot, emulator)
test: fmt-check vet layer layers
	POLYBOOT_LAYER_ZIP=$(CURDIR)/$(LAYER_ZIP) $(GO) test -race -count=1 -timeout 20m ./...
	$(GO) -C bench test -race -count=1 ./... # bench/ is a module of its own (aws-lambda-go stays out of ours)
	$(MAKE) --no-print-directory layers-test
	$(MAKE) --no-print-directory image-test
	$(MAKE) --no-print-directory tools-test

## soak: 10,000 invocations under the emulator; prints the bootstrap's RSS and open fds (make test runs 2,000)
soak: layer
	POLYBOOT_LAYER_ZIP=$(CURDIR)/$(LAYER_ZIP) POLYBOOT_SOAK=10000 $(GO) test -count=1 -v -run 'TestSoak' ./e2e/

vet:
	$(GO) vet ./...
	$(GO) -C bench vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

clean: stop
	rm -rf $(BUILD) $(DIST)

-include layer/interpreters.mk layer/tools/tools.mk bench/bench.mk layer/publish.mk image/image.mk
