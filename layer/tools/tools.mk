# layer/tools/tools.mk: the optional tools layer (the AWS CLI, git, ssh, zip, unzip, tar, gzip from
# Debian 11, for bash handlers on provided.al2023). Included by the root Makefile; see
# layer/README.md, "Tools layer".
#
#   make layers [ARCH=amd64|arm64]   also builds dist/polyboot-tools-$(ARCH).zip
#   make tools-layer                 that zip alone
#   make tools-test                  ELF check (and of the runtime layer's jq); every tool from the unpacked layer in a namespace
#                                    (machine's python3/aws/jq/git hidden) and in the Debian 11
#                                    chroot; aws against internal/s3test on loopback. For a foreign
#                                    ARCH: the ELF check and `aws --version` etc. under qemu-user

ARCH ?= amd64
TOOLS_ZIP = dist/polyboot-tools-$(ARCH).zip

.PHONY: tools-layer tools-test

layers: $(TOOLS_ZIP)
tools-layer: $(TOOLS_ZIP)

$(TOOLS_ZIP): layer/tools/build-tools.sh layer/tools/aws.sh layer/tools/git.sh $(INTERP_COMMON) layer/interpreters/sitecustomize.py
	layer/tools/build-tools.sh $(ARCH)

# The runtime layer (make layer) brings jq: its ELF check is here too.
tools-test: $(TOOLS_ZIP) $(LAYER_ZIP)
	go run ./layer/elfcheck -arch $(ARCH) $(TOOLS_ZIP) $(LAYER_ZIP)
	layer/tools/test-tools.sh $(ARCH)
