# layer/publish.mk: publishing the layers, and the SAM templates. Included by the root Makefile.
#
#   make publish [ARCH=amd64|arm64] [PUBLISH_LANGUAGES=bash,tcl,python2|all] [PUBLISH_ARGS='...']
#                         builds the zips those languages need, then runs layer/publish: the
#                         runtime layer, and one interpreter layer per language that needs one
#   make publish-dry-run  the same with --dry-run: checks, then prints the aws commands
#   make publish-test     tests of layer/publish, the SAM templates and examples/ (go test)
#   make sam-templates    rewrites layer/sam/template-arm64.yaml from layer/template.yaml
#
# PUBLISH_ARGS passes any other option of layer/publish (see layer/publish --help), e.g.
#   make publish PUBLISH_LANGUAGES=all PUBLISH_ARGS='--region eu-west-1 --public'
# and PUBLISH_ARGS=--tools also publishes the tools layer (and builds it first).

ARCH ?= amd64
PUBLISH_LANGUAGES ?= bash
PUBLISH_ARGS ?=

publish_comma := ,
publish_langs := $(subst $(publish_comma), ,$(PUBLISH_LANGUAGES))
publish_lang_flag := $(if $(filter all,$(publish_langs)),--all,--languages $(PUBLISH_LANGUAGES))
# The interpreter layers are built when a language other than bash is asked for.
publish_needs_layers := $(filter-out bash,$(publish_langs))$(findstring --tools,$(PUBLISH_ARGS))

.PHONY: publish publish-dry-run publish-test sam-templates

publish: layer $(if $(publish_needs_layers),layers)
	layer/publish --arch $(ARCH) $(publish_lang_flag) $(PUBLISH_ARGS)

publish-dry-run: layer $(if $(publish_needs_layers),layers)
	layer/publish --dry-run --arch $(ARCH) $(publish_lang_flag) $(PUBLISH_ARGS)

publish-test: layer
	POLYBOOT_LAYER_ZIP=$(CURDIR)/dist/polyboot-$(ARCH).zip $(GO) test -count=1 ./layer/publishtest/

sam-templates:
	$(GO) test -count=1 -run 'TestTemplateArm64IsGenerated' ./layer/publishtest/ -update
