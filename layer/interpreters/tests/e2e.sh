#!/usr/bin/env bash
# Test 3 (end to end): serves a Tcl and a Python 2.7 handler under AWS's Runtime Interface
# Emulator with the runtime layer (dist/polyboot-ARCH.zip: bootstrap + adapters/, from
# 'make layer') and the interpreter layers unpacked at a read-only /opt, in a private mount
# namespace where the machine's own Tcl and Python 2 are hidden, with Lambda's PATH (/opt/bin
# last) and LD_LIBRARY_PATH. Each handler reports its interpreter, which must be the layer's.
#
# The emulator is the go.mod tool (go tool aws-lambda-rie). Needs root.
#
# Usage: e2e.sh [ARCH]
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

set_arch "${1:-amd64}"
# POLYBOOT_RUNTIME_ZIP may name another runtime layer zip (e.g. one built elsewhere).
RUNTIME_ZIP="${POLYBOOT_RUNTIME_ZIP:-$DIST_DIR/polyboot-$ARCH.zip}"

if ! in_namespace; then
	if [[ ! -f "$RUNTIME_ZIP" ]]; then
		printf '\n*** e2e NOT RUN: %s does not exist. Build the runtime layer with make layer ARCH=%s. ***\n\n' \
			"$RUNTIME_ZIP" "$ARCH" >&2
		exit 1
	fi
	require_root_native "$ARCH"
	require_layers
	enter_namespace "$0"
fi

TCL_ZIP="$(layer_zip tcl)"
PY_ZIP="$(layer_zip python2)"
WORK="$(mktemp -d)"
RIE_PGID=""

cleanup() {
	if [[ -n "$RIE_PGID" ]]; then
		kill -- "-$RIE_PGID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# runtime_layer_complete fails unless the runtime layer has the bootstrap and, for Tcl and
# Python 2, the manifest and the adapter script it names.
runtime_layer_complete() {
	local entries lang script missing=()
	entries="$(unzip -Z1 "$RUNTIME_ZIP")"
	grep -qx bootstrap <<<"$entries" || missing+=(bootstrap)
	for lang in tcl python2; do
		if ! grep -qx "adapters/$lang/adapter.json" <<<"$entries"; then
			missing+=("adapters/$lang/adapter.json")
			continue
		fi
		script="$(unzip -p "$RUNTIME_ZIP" "adapters/$lang/adapter.json" | sed -n 's/.*"script": *"\([^"]*\)".*/\1/p')"
		grep -qx "adapters/$lang/$script" <<<"$entries" || missing+=("adapters/$lang/${script:-?} (named by adapter.json)")
	done
	if ((${#missing[@]})); then
		printf '%s lacks: %s\n' "$RUNTIME_ZIP" "${missing[*]}"
		return 1
	fi
	echo "$RUNTIME_ZIP has bootstrap and the Tcl and Python 2 adapters"
}

# free_port prints a TCP port on 127.0.0.1 that nothing listens on, with the next one free too
# (the emulator's Runtime API goes there).
free_port() {
	local port i
	for i in $(seq 50); do
		port=$((20000 + (RANDOM % 20000) * 2))
		if ! (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null && ! (: <"/dev/tcp/127.0.0.1/$((port + 1))") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	echo "no free port found after $i tries" >&2
	return 1
}

# serve_and_invoke LANG FILE SOURCE: writes the handler, runs the emulator on it, invokes it
# twice and checks that the interpreter that answered is the layer's.
serve_and_invoke() {
	local lang="$1" file="$2" source="$3" task port log out i
	task="$WORK/task-$lang"
	log="$WORK/rie-$lang.log"
	mkdir -p "$task"
	printf '%s\n' "$source" >"$task/$file"
	port="$(free_port)"
	(
		cd "$task"
		exec setsid env -i PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin \
			LD_LIBRARY_PATH="/lib64:/usr/lib64:$task:$task/lib:/opt/lib" LANG=en_US.UTF-8 TZ=:UTC \
			_HANDLER=function.handler LAMBDA_TASK_ROOT="$task" AWS_LAMBDA_FUNCTION_TIMEOUT=60 \
			"$RIE" --runtime-interface-emulator-address "127.0.0.1:$port" \
			--runtime-api-address "127.0.0.1:$((port + 1))" /opt/bootstrap
	) >"$log" 2>&1 &
	RIE_PGID=$!
	for i in $(seq 100); do
		(: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.1
	done
	local ok=1
	for i in 1 2; do
		out="$(curl -s --max-time 60 -XPOST "http://127.0.0.1:$port/2015-03-31/functions/function/invocations" -d '{"x":1}' || true)"
		echo "invoke $i: $out"
		if [[ ! "$out" =~ \"exe\":\ *\"/opt/bin/[a-z0-9.]+\" ]]; then
			ok=0
		fi
	done
	kill -- "-$RIE_PGID" 2>/dev/null || true
	wait "$RIE_PGID" 2>/dev/null || true
	RIE_PGID=""
	if ((ok == 0)); then
		echo "emulator log:"
		sed 's/^/  /' "$log"
		return 1
	fi
}

tcl_handler() {
	# shellcheck disable=SC2016  # Tcl source
	serve_and_invoke tcl function.tcl 'proc handler {event context} { return "{\"exe\":\"[info nameofexecutable]\"}" }'
}

python_handler() {
	serve_and_invoke python2 function.py 'def handler(event, context): import sys; return {"exe": sys.executable}'
}

main() {
	echo "# test 3: Tcl and Python 2.7 handlers under the Runtime Interface Emulator, from the layers alone ($ARCH)"
	# On failure, go on anyway: the emulator's log then shows how far the layers get.
	check "runtime layer has the bootstrap and both adapters" runtime_layer_complete
	RIE="$(cd "$REPO_ROOT" && go tool -n aws-lambda-rie)" || die "could not build the emulator (go tool aws-lambda-rie)"
	hide_host_interpreters
	check "machine's own Tcl and Python 2 are hidden" no_host_interpreters
	mount_layers "$RUNTIME_ZIP" "$TCL_ZIP" "$PY_ZIP"
	echo "    /opt: $(find /opt -mindepth 1 -maxdepth 1 -printf '%f ' | LC_ALL=C sort)"
	check "tcl handler answers from /opt/bin" tcl_handler
	check "python2 handler answers from /opt/bin" python_handler
	summary "layers-test e2e ($ARCH)"
}

main
