# shellcheck shell=bash
# polyboot's bash adapter: loads a user's function.sh once, then serves invocations over the
# channel of docs/protocol.md (version 2) without forking on the hot path.
#
#   bash adapter.sh <handler file> <function> <module>
#
# fd 0: invoke lines in; fd 1: replies out; fd 2: the log stream. Each invoke line names a FIFO
# (its "body" member) for the response body. The handler is called as `<function> "$EVENT"` with
# its stdout on that FIFO, so what it prints is the response body; a non-zero status (or `exit`,
# or a `set -e` failure) is an error. Event data is never evaluated.

# Move the channel out of the handler's reach: stdin reads /dev/null, stdout goes to the logs.
# bash cannot mark a descriptor close-on-exec, so the handler is called with these two closed
# (bash keeps its own saved copies close-on-exec): programs it runs get fds 0, 1 and 2 only.
# They are fds 100 and 101, away from the ones the handler's own `exec {var}>...` takes (10 and
# up, the lowest free): a descriptor it opened while they are closed would otherwise get their
# number and be overwritten when bash puts them back after the call. (bash's process
# substitutions use 63 and down, its script 255.)
_pb_in=100 _pb_out=101
exec 100<&0 101>&1 </dev/null 1>&2

_pb_file=$1
_pb_func=$2
_pb_phase=init  # init, idle, invoke or done: what the EXIT trap reports
_pb_id=         # the current request id, JSON-escaped as it came on the line
_pb_body=       # the current invocation's body FIFO
_pb_event=
_pb_pid=$BASHPID  # a subshell of the handler is never the adapter
_pb_mb=$'\xc3\xa9'  # one character in a UTF-8 locale, two bytes in a single-byte one
# What the channel out's /proc link reads (pipe:[N]), for the EXIT trap: see _pb_find_out.
_pb_out_link=$(command -p readlink "/proc/$_pb_pid/fd/$_pb_out" 2>/dev/null)

# _pb_json_string NAME TEXT: sets NAME to TEXT as a JSON string literal (with quotes).
_pb_json_string() {
	local s=$2
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\r'/\\r}
	s=${s//$'\t'/\\t}
	s=${s//[$'\x01'-$'\x1f']/?}
	printf -v "$1" '"%s"' "$s"
}

# _pb_reply_error TYPE MESSAGE [EXTRA]: writes an error (or init_error) reply.
_pb_reply_error() {
	local type msg
	_pb_json_string type "$1"
	_pb_json_string msg "$2"
	if [[ $_pb_phase == init ]]; then
		printf '{"type":"init_error","errorType":%s,"errorMessage":%s,"stackTrace":[]}\n' \
			"$type" "$msg" >&"$_pb_out"
	else
		printf '{"type":"error","id":"%s","errorType":%s,"errorMessage":%s,"stackTrace":[]%s}\n' \
			"$_pb_id" "$type" "$msg" "${3-}" >&"$_pb_out"
	fi
}

# _pb_on_exit: the handler (or code loaded with it) ended the shell with `exit` or `set -e`.
# Answer for it, and tell the bootstrap this worker is gone ("final"), so it starts a new one.
_pb_on_exit() {
	local rc=$?
	[[ $BASHPID == "$_pb_pid" ]] || return 0
	set +euo pipefail
	case $_pb_phase in
	init | invoke)
		# The shell is still inside the `source` or the handler's call, where the channel fds
		# are closed.
		if ! _pb_find_out; then
			printf 'polyboot bash adapter: the channel out is not found; exiting without a reply\n' >&2
			return 0
		fi
		;;
	esac
	case $_pb_phase in
	init) _pb_reply_error Runtime.UserCodeSyntaxError \
		"$_pb_file exited with status $rc while it was loaded" ;;
	invoke) _pb_reply_error Function.NonZeroExit \
		"handler '$_pb_func' exited the shell with status $rc (exit or set -e)" ',"logTail":10,"final":true' ;;
	esac
}

# _pb_find_out: in the EXIT trap inside the `source` of the handler file or the handler's call,
# where the channel fds are closed, points _pb_out at the copy of the channel out that bash saved for the call's duration (a
# close-on-exec descriptor at 10 or above; outside them, _pb_out itself): the one whose /proc
# link names the channel-out pipe, as noted at start-up. Forks, but only on this way out.
_pb_find_out() {
	local f
	[[ -n $_pb_out_link ]] || return 1
	for f in "/proc/$_pb_pid/fd/"*; do
		if [[ ${f##*/} != *[!0-9]* ]] && ((${f##*/} >= 10)) && [[ -p $f ]] &&
			[[ $(command -p readlink "$f" 2>/dev/null) == "$_pb_out_link" ]]; then
			_pb_out=${f##*/}
			return 0
		fi
	done
	return 1
}
trap _pb_on_exit EXIT

# _pb_unescape NAME: decodes the JSON string escapes in variable NAME, in place. Used for the short
# context members only; the event is passed on as JSON text, undecoded.
_pb_unescape() {
	local s=${!1} out= c
	while [[ $s == *\\* ]]; do
		out+=${s%%\\*}
		s=${s#*\\}
		c=${s:0:1}
		s=${s:1}
		case $c in
		n) out+=$'\n' ;;
		r) out+=$'\r' ;;
		t) out+=$'\t' ;;
		b) out+=$'\b' ;;
		f) out+=$'\f' ;;
		u)
			printf -v c "\\u${s:0:4}"
			out+=$c
			s=${s:4}
			;;
		*) out+=$c ;;
		esac
	done
	printf -v "$1" '%s' "$out$s"
}

# _pb_read: reads one invoke line into the _pb_* variables; fails at EOF (or in a subshell). Runs
# in the C locale so that lengths and offsets count bytes. `read -N` reads a pipe in blocks; plain
# `read` would make one system call per byte. Setting a locale variable costs a setlocale() call
# both ways (10-20 us), so it is done only when the locale of the moment is multibyte.
#
# The layout of docs/protocol.md guarantees that a string member ends exactly where
# `","<next member>":` begins, and that this sequence occurs nowhere else. Each member is cut
# forward, in line (a function call per member doubled the time of a read): ${h%%SEP*} is
# linear, where ${h#*SEP} would make bash try every prefix length.
#
# A long line (over 64 KiB) is read in three parts: 16 KiB that hold the head (every member but
# the event, unless a client context makes it longer), the rest of the event, and the closing
# "}\n". Only the first part is searched for the event's start, and the event is joined once,
# instead of the whole line being searched and then copied out: a 5 MB event took 35 ms less.
_pb_read() {
	local hdr rest v n more
	[[ $BASHPID == "$_pb_pid" ]] || return 1
	if ((${#_pb_mb} == 1)); then
		if [[ -n ${LC_ALL-} ]]; then local LC_ALL=C; else local LC_CTYPE=C; fi
	fi
	IFS= read -r -N 19 -u "$_pb_in" hdr || return 1
	if [[ $hdr != '{"len":"'[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'"' ]]; then
		printf 'polyboot bash adapter: bad invoke line start: %q\n' "$hdr" >&2
		_pb_phase=done
		exit 70
	fi
	n=$((10#${hdr:8:10} - 19))
	if ((n > 65536)); then
		IFS= read -r -N 16384 -u "$_pb_in" rest || return 1
		IFS= read -r -N $((n - 16384 - 2)) -u "$_pb_in" more || return 1
		IFS= read -r -N 2 -u "$_pb_in" v || return 1
		if [[ $rest != *,\"event\":* ]]; then # the head is longer than the first part
			rest+=$more$v
		fi
	else
		IFS= read -r -N $n -u "$_pb_in" rest || return 1
	fi
	_pb_head=${rest%%,\"event\":*}
	if ((${#rest} < n)); then # the first part of a long line: the event goes on in $more
		_pb_event=${rest:${#_pb_head}+9}$more
	else
		_pb_event=${rest:${#_pb_head}+9:${#rest}-${#_pb_head}-11}
	fi
	if [[ $_pb_head != ',"type":"invoke","id":"'* ]]; then
		printf 'polyboot bash adapter: not an invoke line: %q\n' "${_pb_head:0:200}" >&2
		_pb_phase=done
		exit 70
	fi
	_pb_head=${_pb_head:23}
	_pb_id=${_pb_head%%'","body":"'*} _pb_head=${_pb_head:${#_pb_id}+10}
	_pb_body=${_pb_head%%'","deadline_ms":'*} _pb_head=${_pb_head:${#_pb_body}+16}
	_pb_deadline=${_pb_head%%',"invoked_function_arn":"'*} _pb_head=${_pb_head:${#_pb_deadline}+25}
	_pb_arn=${_pb_head%%'","trace_id":"'*} _pb_head=${_pb_head:${#_pb_arn}+14}
	_pb_trace=${_pb_head%%'","client_context":"'*} _pb_head=${_pb_head:${#_pb_trace}+20}
	_pb_client_context=${_pb_head%%'","cognito_identity":"'*} _pb_head=${_pb_head:${#_pb_client_context}+22}
	_pb_identity=${_pb_head%%'","tenant_id":"'*} _pb_head=${_pb_head:${#_pb_identity}+15}
	_pb_tenant=${_pb_head%\"}
	# _pb_id stays escaped as it came, for the reply; _pb_rid is the id itself.
	_pb_rid=$_pb_id
	if [[ $_pb_id$_pb_arn$_pb_trace$_pb_client_context$_pb_identity$_pb_tenant == *\\* ]]; then
		for v in _pb_rid _pb_arn _pb_trace _pb_client_context _pb_identity _pb_tenant; do
			if [[ ${!v} == *\\* ]]; then _pb_unescape "$v"; fi
		done
	fi
	return 0
}

# lambda_remaining_ms NAME: sets NAME to the milliseconds left before the invocation's deadline
# (0 once it has passed).
lambda_remaining_ms() {
	# Locals are prefixed: printf -v would set a local of the caller's chosen name instead.
	local _pb_now=${EPOCHREALTIME/[.,]/} _pb_left
	_pb_left=$((LAMBDA_DEADLINE_MS - _pb_now / 1000))
	printf -v "$1" '%d' $((_pb_left > 0 ? _pb_left : 0))
}

# The JSON helpers handlers may call (lambda_json_string, lambda_http_response): json.sh, beside
# this file.
_pb_dir=${BASH_SOURCE[0]%/*}
[[ $_pb_dir == "${BASH_SOURCE[0]}" ]] && _pb_dir=.
# shellcheck source=json.sh
if ! source "$_pb_dir/json.sh"; then
	_pb_reply_error Runtime.AdapterError "cannot load $_pb_dir/json.sh (the bash adapter's JSON helpers)"
	_pb_phase=done
	exit 1
fi

# Load the handler: a syntax check first (its message is the error), then source it once.
if [[ ! -r $_pb_file ]]; then
	_pb_reply_error Runtime.HandlerNotFound "cannot read handler file $_pb_file"
	_pb_phase=done
	exit 1
fi
if ! _pb_syntax=$("$BASH" -n "$_pb_file" 2>&1); then
	_pb_reply_error Runtime.UserCodeSyntaxError "${_pb_syntax:-syntax error in $_pb_file}"
	_pb_phase=done
	exit 1
fi
# shellcheck disable=SC1090
source "$_pb_file" {_pb_in}<&- {_pb_out}>&-
if ! declare -F -- "$_pb_func" >/dev/null; then
	_pb_reply_error Runtime.HandlerNotFound "no function '$_pb_func' in $_pb_file (define it: $_pb_func() { ...; })"
	_pb_phase=done
	exit 1
fi

# The options the user's file chose (set -e, -u, pipefail) apply inside the handler only.
_pb_opts=$-
[[ -o pipefail ]] && _pb_opts+=P
set +euo pipefail
_pb_phase=idle
printf '{"type":"ready","protocol":2}\n' >&"$_pb_out"

while _pb_read; do
	export LAMBDA_REQUEST_ID=$_pb_rid LAMBDA_DEADLINE_MS=$_pb_deadline LAMBDA_FUNCTION_ARN=$_pb_arn
	export LAMBDA_CLIENT_CONTEXT=$_pb_client_context LAMBDA_COGNITO_IDENTITY=$_pb_identity
	export LAMBDA_TENANT_ID=$_pb_tenant
	if [[ -n $_pb_trace ]]; then export _X_AMZN_TRACE_ID=$_pb_trace; else unset _X_AMZN_TRACE_ID; fi
	_pb_phase=invoke
	[[ $_pb_opts == *e* ]] && set -e
	[[ $_pb_opts == *u* ]] && set -u
	[[ $_pb_opts == *P* ]] && set -o pipefail
	# The channel fds are closed for the call; stdout is the body FIFO, closed when it returns.
	"$_pb_func" "$_pb_event" {_pb_in}<&- {_pb_out}>&- >"$_pb_body"
	_pb_rc=$?
	set +euo pipefail
	_pb_phase=idle
	if ((_pb_rc == 0)); then
		printf '{"type":"response","id":"%s"}\n' "$_pb_id" >&"$_pb_out"
	else
		_pb_reply_error Function.NonZeroExit "handler '$_pb_func' returned status $_pb_rc" ',"logTail":10'
	fi
done
_pb_phase=done
exit 0
