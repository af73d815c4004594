# image/image.mk: Lambda container images without a Docker daemon. Included by the root Makefile;
# see the README's "Container images" and image/README.md.
#
#   make image [ARCH=amd64|arm64] [BASE=ref|archive|oci-dir] [FUNCTION=dir] [HANDLER=file.func]
#              [LANGUAGES=tcl,python2,tools] [IMAGE_OUT=dist/...tar] [IMAGE_TAG=name:tag]
#                     writes a `docker load` archive, by default of examples/bash on the offline
#                     base: dist/polyboot-image-$(ARCH).tar
#   make image-base   the offline base (Debian 11 packages + AWS's emulator): dist/polyboot-base-$(ARCH).tar
#   make image-test   the image module's tests: unit tests, the registry round trip, and the image
#                     run in private namespaces (root) with bash, Tcl and Python 2.7 handlers
#   make publish-image IMAGE=ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG [PUBLISH_IMAGE_ARGS=...]
#                     builds the image as make image does, then pushes it (ECR token from the AWS CLI)
#   make publish-image-dry-run IMAGE=...   prints what publish-image would do; pushes nothing

BASE ?=
FUNCTION ?= examples/bash
HANDLER ?= function.handler
LANGUAGES ?=
IMAGE_OUT ?= $(DIST)/polyboot-image-$(ARCH).tar
IMAGE_TAG ?= polyboot-function:latest
IMAGE ?=
PUBLISH_IMAGE_ARGS ?=

IMAGE_BUILD := $(BUILD)/image
IMAGE_TOOL := $(IMAGE_BUILD)/polyboot-image
IMAGE_RIE = $(IMAGE_BUILD)/aws-lambda-rie-$(ARCH)
IMAGE_BASE = $(DIST)/polyboot-base-$(ARCH).tar
IMAGE_RIE_MODULE := github.com/aws/aws-lambda-runtime-interface-emulator

image_comma := ,
image_langs := $(filter-out bash,$(subst $(image_comma), ,$(LANGUAGES)))
image_unknown := $(filter-out tcl python2 tools,$(image_langs))
image_zips = $(foreach l,$(image_langs),$(DIST)/polyboot-$(l)-$(ARCH).zip)
image_base_src = $(if $(BASE),$(BASE),$(IMAGE_BASE))
ifneq ($(image_unknown),)
$(error LANGUAGES: unknown $(image_unknown) (want tcl, python2, tools))
endif

.PHONY: image image-base image-test publish-image publish-image-dry-run

$(IMAGE_TOOL): image/go.mod image/go.sum $(shell find image -name '*.go' -not -name '*_test.go')
	mkdir -p $(IMAGE_BUILD)
	cd image && CGO_ENABLED=0 $(GO) build -trimpath -o $(CURDIR)/$@ ./cmd/polyboot-image

# AWS's emulator for the image, from the go.mod tool's module: static, for the image's ARCH.
$(IMAGE_RIE): go.mod go.sum
	mkdir -p $(IMAGE_BUILD)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build -trimpath -ldflags "-s -w" -o $@ $(IMAGE_RIE_MODULE)/cmd/aws-lambda-rie

image-base: $(IMAGE_BASE)

$(IMAGE_BASE): image/base/build-base.sh image/base/lambda-entrypoint.sh $(INTERP_COMMON) $(IMAGE_RIE) $(IMAGE_TOOL)
	rootfs=$$(image/base/build-base.sh $(ARCH) $(IMAGE_RIE) "$$($(GO) list -m -f '{{.Dir}}' $(IMAGE_RIE_MODULE))"); \
	  $(IMAGE_TOOL) base --rootfs "$$rootfs" --arch $(ARCH) --out $@ --tag polyboot-base:$(ARCH)

image: layer $(image_zips) $(IMAGE_TOOL) $(if $(BASE),,$(IMAGE_BASE))
	$(IMAGE_TOOL) build --base '$(image_base_src)' --arch $(ARCH) --runtime $(LAYER_ZIP) \
	  $(foreach z,$(image_zips),--layer $(z)) --function '$(FUNCTION)' --handler '$(HANDLER)' \
	  --out $(IMAGE_OUT) --tag '$(IMAGE_TAG)'

ifneq ($(filter publish-image publish-image-dry-run,$(MAKECMDGOALS)),)
ifeq ($(IMAGE),)
$(error IMAGE is not set: make publish-image IMAGE=ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG)
endif
endif

publish-image publish-image-dry-run: image
	$(IMAGE_TOOL) push --archive $(IMAGE_OUT) $(if $(filter %-dry-run,$@),--dry-run) $(PUBLISH_IMAGE_ARGS) '$(IMAGE)'

# The image the namespace test runs: the offline base, the runtime, Tcl and Python 2.7 layers, and
# image/imagetest/testdata/function (a bash, a Tcl and a Python 2.7 handler). Built by the tool,
# outside the race detector, which would make compressing it ten times slower.
IMAGE_TEST_IMAGE = $(IMAGE_BUILD)/test-image-$(ARCH).tar

# The tests read the base archive and the test image make built (POLYBOOT_IMAGE_BASE,
# POLYBOOT_TEST_IMAGE) and the Dockerfile recipe's COPY sources in dist/.
image-test: layer layers $(IMAGE_BASE) $(IMAGE_TOOL)
	cd image && $(GO) vet ./...
	shellcheck -x image/base/build-base.sh image/base/lambda-entrypoint.sh image/imagetest/testdata/function/bash.sh
	$(IMAGE_TOOL) build --base $(IMAGE_BASE) --arch $(ARCH) --runtime $(LAYER_ZIP) \
	  --layer $(DIST)/polyboot-tcl-$(ARCH).zip --layer $(DIST)/polyboot-python2-$(ARCH).zip \
	  --function image/imagetest/testdata/function --handler bash.handler --out $(IMAGE_TEST_IMAGE)
	cd image && POLYBOOT_IMAGE_ARCH=$(ARCH) POLYBOOT_IMAGE_BASE=$(CURDIR)/$(IMAGE_BASE) POLYBOOT_TEST_IMAGE=$(CURDIR)/$(IMAGE_TEST_IMAGE) \
	  $(GO) test -race -count=1 -timeout 10m ./...
	$(MAKE) --no-print-directory image
