# layer/interpreters.mk: the interpreter layers (Tcl 8.6 and Python 2.7 from Debian 11, for
# provided.al2023). Included by the root Makefile; see layer/README.md, "Interpreter layers".
#
#   make layers [ARCH=amd64|arm64]   dist/polyboot-tcl-$(ARCH).zip, dist/polyboot-python2-$(ARCH).zip
#   make layers-check                 ELF check of both zips (glibc <= 2.34, libraries bundled), sizes
#   make layers-test                  layers-check, then tests 1 and 2, and 3 (e2e) when
#                                     dist/polyboot-$(ARCH).zip exists; for a foreign ARCH (arm64
#                                     on amd64) the checks of 1 and 2 under qemu-user emulation
#   make layers-e2e                   builds the runtime layer (make layer), then runs test 3
#   make layers-clean                 removes the layer zips and build tree, keeps the download cache
#
# Downloads are cached in $(POLYBOOT_CACHE) (default build/cache); a warm rebuild takes seconds.

ARCH ?= amd64
INTERP_DIR := layer/interpreters
INTERP_ZIPS = dist/polyboot-tcl-$(ARCH).zip dist/polyboot-python2-$(ARCH).zip
INTERP_RUNTIME_ZIP = dist/polyboot-$(ARCH).zip
INTERP_COMMON := $(INTERP_DIR)/common.sh $(INTERP_DIR)/tools.sh

.PHONY: layers layers-check layers-test layers-e2e layers-clean

layers: $(INTERP_ZIPS)

dist/polyboot-tcl-$(ARCH).zip: $(INTERP_DIR)/build-tcl.sh $(INTERP_DIR)/tls-ca.tcl $(INTERP_COMMON)
	$(INTERP_DIR)/build-tcl.sh $(ARCH)

dist/polyboot-python2-$(ARCH).zip: $(INTERP_DIR)/build-python2.sh $(INTERP_DIR)/sitecustomize.py $(INTERP_DIR)/certifi_core.py $(INTERP_DIR)/futures/__init__.py $(INTERP_COMMON)
	$(INTERP_DIR)/build-python2.sh $(ARCH)

# Reads the zips only (no build): fails loudly when they are missing.
layers-check:
	go run ./layer/elfcheck -arch $(ARCH) $(INTERP_ZIPS)

layers-test: $(INTERP_ZIPS)
	go run ./layer/elfcheck -arch $(ARCH) $(INTERP_ZIPS)
	@if [ "$(ARCH)" != "$$(dpkg --print-architecture)" ]; then \
		echo "*** NOTICE: $(ARCH) layers on a $$(dpkg --print-architecture) machine: emulated checks only; tests 1-3 NOT RUN ***"; \
		$(INTERP_DIR)/tests/emulated.sh $(ARCH); \
	else \
		$(INTERP_DIR)/tests/namespace.sh $(ARCH) && \
		$(INTERP_DIR)/tests/chroot.sh $(ARCH) && \
		if [ -f $(INTERP_RUNTIME_ZIP) ]; then \
			$(INTERP_DIR)/tests/e2e.sh $(ARCH); \
		else \
			echo "*** NOTICE: test 3 (e2e) NOT RUN: $(INTERP_RUNTIME_ZIP) does not exist; run 'make layers-e2e' ***"; \
		fi; \
	fi

layers-e2e: $(INTERP_ZIPS) layer
	$(INTERP_DIR)/tests/e2e.sh $(ARCH)

layers-clean:
	rm -rf $(INTERP_ZIPS) build/interpreters
