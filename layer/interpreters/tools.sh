#!/usr/bin/env bash
# tools.sh: unpacks the build tools the layer build runs on this machine (bullseye's patchelf and
# bullseye's own python2.7, to compile .pyc files) into build/interpreters/tools-<host arch>, from
# the same private apt setup, so that the machine needs no packages installed for a build.
#
# Usage: tools.sh    (prints the tools directory)
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

TOOL_PKGS=(patchelf python2.7-minimal libpython2.7-minimal)

main() {
	lock_cache
	set_arch "$(host_arch)"
	local dir="$BUILD_ROOT/tools-$ARCH"
	apt_setup
	apt_update
	fetch_debs "${TOOL_PKGS[@]}"
	local want have="" p
	want="$(for p in "${TOOL_PKGS[@]}"; do printf '%s %s\n' "$p" "${DEB_VERSION[$p]}"; done)"
	[[ -f "$dir/versions" ]] && have="$(cut -d' ' -f1,2 "$dir/versions")"
	if [[ "$want" != "$have" ]]; then
		log "unpacking build tools into $dir"
		extract_debs "$dir" "${TOOL_PKGS[@]}"
	fi
	printf '%s\n' "$dir"
}

main "$@"
