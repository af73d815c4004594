#!/usr/bin/env bash
# Test 3 (end to end): serves Tcl and Python 2.7 handlers under AWS's Runtime Interface
# Emulator with the runtime layer (dist/polyboot-ARCH.zip: bootstrap + adapters/, from
# 'make layer') and the interpreter layers unpacked at a read-only /opt, in a private mount
# namespace where the machine's own Tcl and Python 2 are hidden, with Lambda's PATH (/opt/bin
# last) and LD_LIBRARY_PATH. Each handler reports its interpreter, which must be the layer's; a
# boto3 handler works against the S3 stand-in (internal/s3test), and the python2.7 runtime's
# behaviours (default encoding, error body, source lines, DEBUG logs) hold end to end.
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

# start_rie LANG FILE SOURCE [VAR=VALUE...]: writes the handler into a task folder of its own and
# starts the emulator on it (with Lambda's PATH and LD_LIBRARY_PATH and the extra variables);
# sets RIE_PORT and RIE_LOG. Waits until the emulator listens.
start_rie() {
	local lang="$1" file="$2" source="$3" task i
	shift 3
	task="$WORK/task-$lang"
	RIE_LOG="$WORK/rie-$lang.log"
	mkdir -p "$task"
	printf '%s\n' "$source" >"$task/$file"
	RIE_PORT="$(free_port)"
	(
		cd "$task"
		exec setsid env -i PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin \
			LD_LIBRARY_PATH="/lib64:/usr/lib64:$task:$task/lib:/opt/lib" LANG=en_US.UTF-8 TZ=:UTC \
			_HANDLER=function.handler LAMBDA_TASK_ROOT="$task" AWS_LAMBDA_FUNCTION_TIMEOUT=60 "$@" \
			"$RIE" --runtime-interface-emulator-address "127.0.0.1:$RIE_PORT" \
			--runtime-api-address "127.0.0.1:$((RIE_PORT + 1))" /opt/bootstrap
	) >"$RIE_LOG" 2>&1 &
	RIE_PGID=$!
	for i in $(seq 100); do
		(: <"/dev/tcp/127.0.0.1/$RIE_PORT") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "the emulator did not listen on 127.0.0.1:$RIE_PORT"
	return 1
}

# invoke_rie EVENT prints the emulator's answer to one invocation.
invoke_rie() {
	curl -s --max-time 60 -XPOST "http://127.0.0.1:$RIE_PORT/2015-03-31/functions/function/invocations" -d "$1" || true
}

# stop_rie [FAILED]: stops the emulator; with FAILED=1 shows its log first.
stop_rie() {
	kill -- "-$RIE_PGID" 2>/dev/null || true
	wait "$RIE_PGID" 2>/dev/null || true
	RIE_PGID=""
	if [[ "${1:-0}" == 1 ]]; then
		echo "emulator log:"
		sed 's/^/  /' "$RIE_LOG"
		return 1
	fi
}

# serve_and_invoke LANG FILE SOURCE: runs the emulator on the handler, invokes it twice and
# checks that the interpreter that answered is the layer's.
serve_and_invoke() {
	local out i failed=0
	start_rie "$@" || return 1
	for i in 1 2; do
		out="$(invoke_rie '{"x":1}')"
		echo "invoke $i: $out"
		if [[ ! "$out" =~ \"exe\":\ *\"/opt/bin/[a-z0-9.]+\" ]]; then
			failed=1
		fi
	done
	stop_rie "$failed"
}

# contains TEXT WANT... fails (saying what is missing) unless TEXT contains every WANT.
contains() {
	local text="$1" want
	shift
	for want in "$@"; do
		if [[ "$text" != *"$want"* ]]; then
			echo "missing: $want"
			return 1
		fi
	done
}

tcl_handler() {
	# shellcheck disable=SC2016  # Tcl source
	serve_and_invoke tcl function.tcl 'proc handler {event context} { return "{\"exe\":\"[info nameofexecutable]\"}" }'
}

# A Tcl handler with the batteries: tcllib's json and json::write (beside the adapter's own json
# commands, which it must not disturb), sqlite3.
# shellcheck disable=SC2016  # Tcl source
TCL_BATTERIES_HANDLER='package require json
package require json::write
package require sqlite3
json::write indented 0
proc handler {event context} {
    set d [json::json2dict [dict get $context event_json]]
    sqlite3 db :memory:
    set answer [db eval {select 6 * 7}]
    db close
    json::write object name [json::write string [dict get $d name]] answer $answer
}'

tcl_batteries() {
	local out failed=0
	start_rie tcl-batteries function.tcl "$TCL_BATTERIES_HANDLER" || return 1
	out="$(invoke_rie '{"name":"caf\u00e9"}')"
	echo "invoke: $out"
	[[ "$out" == '{"name":"café","answer":42}' ]] || failed=1
	stop_rie "$failed"
}

python_handler() {
	serve_and_invoke python2 function.py 'def handler(event, context): import sys; return {"exe": sys.executable}'
}

# A boto3 handler of the kind AWS's python2.7 blueprints are: put, get and list against the S3
# stand-in (internal/s3test, over HTTP on loopback), with the function's credentials from the
# environment as Lambda sets them; the stand-in verifies each request's SigV4 signature.
S3_HANDLER='# -*- coding: utf-8 -*-
import os
import boto3
from botocore.config import Config

s3 = boto3.client("s3", endpoint_url=os.environ["POLYBOOT_TEST_S3"],
                  config=Config(s3={"addressing_style": "path"}))


def handler(event, context):
    key = u"uploads/caf\u00e9-%s.txt" % context.aws_request_id
    s3.put_object(Bucket="polyboot-test", Key=key, Body=event["text"].encode("utf-8"))
    body = s3.get_object(Bucket="polyboot-test", Key=key)["Body"].read().decode("utf-8")
    listed = s3.list_objects_v2(Bucket="polyboot-test", Prefix="uploads/")
    return {"got": body, "keys": [o["Key"] for o in listed["Contents"]],
            "boto3": boto3.__version__, "from": boto3.__file__}'

boto3_s3_handler() {
	local s3log="$WORK/s3serve.log" s3pid addr out i failed=0 ops
	"$S3SERVE" --access-key-id AKIDPOLYBOOT --secret-access-key polyboot-secret \
		--session-token polyboot-token --bucket polyboot-test >"$s3log" 2>&1 &
	s3pid=$!
	for i in $(seq 100); do
		addr="$(sed -n 's/^listening on //p' "$s3log")"
		[[ -n "$addr" ]] && break
		sleep 0.1
	done
	if [[ -z "$addr" ]]; then
		echo "s3serve did not start:"
		cat "$s3log"
		kill "$s3pid" 2>/dev/null
		return 1
	fi
	echo "S3 stand-in at $addr"
	start_rie python2-s3 function.py "$S3_HANDLER" POLYBOOT_TEST_S3="$addr" \
		AWS_ACCESS_KEY_ID=AKIDPOLYBOOT AWS_SECRET_ACCESS_KEY=polyboot-secret \
		AWS_SESSION_TOKEN=polyboot-token AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 || failed=1
	if ((failed == 0)); then
		out="$(invoke_rie '{"text":"h\u00e9llo"}')"
		echo "invoke: $out"
		contains "$out" '"got": "héllo"' '"uploads/café-' '"boto3": "1.13.14"' \
			'"from": "/opt/lib/python2.7/dist-packages/boto3/__init__.pyc"' || failed=1
	fi
	stop_rie "$failed" || true
	kill "$s3pid" 2>/dev/null || true
	wait "$s3pid" 2>/dev/null || true
	ops="$(grep -o '"operation":"[A-Za-z0-9]*"[^}]*"verified":[a-z]*' "$s3log" | sed 's/"operation":"\([A-Za-z0-9]*\)".*"verified":\([a-z]*\)/\1=\2/' | sort -u | tr '\n' ' ')"
	echo "S3 requests (operation=signature verified): $ops"
	contains "$ops" PutObject=true GetObject=true ListObjectsV2=true || failed=1
	if grep -q '"verified":false' "$s3log"; then
		echo "the stand-in rejected a request:"
		grep '"verified":false' "$s3log"
		failed=1
	fi
	((failed == 0))
}

# What AWS's python2.7 runtime gave handlers, end to end with the layer's python2.7: UTF-8 as the
# default encoding, awslambdaric's error body (requestId), standard-library frames with their
# source lines, and a handler's DEBUG lines in the log (text logs, no AWS_LAMBDA_LOG_LEVEL).
FIDELITY_HANDLER='# -*- coding: utf-8 -*-
import json
import logging

logger = logging.getLogger()
logger.setLevel(logging.DEBUG)


def handler(event, context):
    logger.debug("fidelity debug line")
    if event.get("fail"):
        json.loads("{")
    return "{} {}".format(u"orqu\u00eddeas", "ok")'

python_fidelity() {
	local out failed=0
	start_rie python2-fidelity function.py "$FIDELITY_HANDLER" || return 1
	out="$(invoke_rie '{}')"
	echo "invoke: $out"
	contains "$out" '"orquídeas ok"' || failed=1
	out="$(invoke_rie '{"fail":1}')"
	echo "failing invoke: $out"
	contains "$out" '"errorType":"ValueError"' '"requestId":"' \
		'File \"/opt/lib/python2.7/json/decoder.py\", line 380, in raw_decode\n    obj, end = self.scan_once(s, idx)' ||
		failed=1
	if ! grep -q $'\[DEBUG\]\t.*\tfidelity debug line' "$RIE_LOG"; then
		echo "no DEBUG line in the emulator's log"
		failed=1
	fi
	stop_rie "$failed"
}

main() {
	echo "# test 3: Tcl and Python 2.7 handlers under the Runtime Interface Emulator, from the layers alone ($ARCH)"
	# On failure, go on anyway: the emulator's log then shows how far the layers get.
	check "runtime layer has the bootstrap and both adapters" runtime_layer_complete
	RIE="$(cd "$REPO_ROOT" && go tool -n aws-lambda-rie)" || die "could not build the emulator (go tool aws-lambda-rie)"
	S3SERVE="$WORK/s3serve"
	(cd "$REPO_ROOT" && go build -o "$S3SERVE" ./internal/s3test/s3serve) || die "could not build internal/s3test/s3serve"
	hide_host_interpreters
	check "machine's own Tcl and Python 2 are hidden" no_host_interpreters
	mount_layers "$RUNTIME_ZIP" "$TCL_ZIP" "$PY_ZIP"
	echo "    /opt: $(find /opt -mindepth 1 -maxdepth 1 -printf '%f ' | LC_ALL=C sort)"
	check "tcl handler answers from /opt/bin" tcl_handler
	check "tcl: a handler with tcllib json and sqlite3" tcl_batteries
	check "python2 handler answers from /opt/bin" python_handler
	check "python2: a boto3 handler puts, gets and lists on the S3 stand-in (SigV4 verified)" boto3_s3_handler
	check "python2: UTF-8 default encoding, requestId, stdlib source lines, DEBUG lines" python_fidelity
	summary "layers-test e2e ($ARCH)"
}

main
