# shellcheck shell=bash
# polyboot's JSON helpers for bash handlers. adapter.sh sources this file before it loads the
# handler, so a handler calls them as builtins would be called. None of them forks or runs a
# program: pure parameter expansion and printf -v.
#
#   lambda_json_string VAR TEXT
#       Sets VAR to TEXT as a JSON string literal, quotes included. `"` and `\` are escaped;
#       newline, carriage return, tab, backspace and form feed become \n \r \t \b \f; the other
#       control bytes 0x01-0x1f become \u00XX. Valid UTF-8 is kept as it is. Each byte that does
#       not belong to a valid UTF-8 sequence (a stray continuation byte, an overlong form, a
#       surrogate, a code point above U+10FFFF, a sequence cut short) becomes U+FFFD, the
#       replacement character, so the result is always valid JSON in valid UTF-8. A bash variable
#       cannot hold a NUL byte: TEXT ends at the first one.
#
#   lambda_http_response [-b] VAR STATUS BODY [NAME VALUE]...
#       Sets VAR to the answer API Gateway (REST and HTTP APIs) and function URLs expect from a
#       proxy integration: {"statusCode":STATUS,"headers":{NAME:VALUE,...},"body":BODY}. STATUS
#       must be a number from 100 to 599. With -b, BODY is base64 text (the handler encodes it)
#       and "isBase64Encoded":true is added. Give each header name once. Example:
#           handler() {
#             local r; lambda_http_response r 200 "hello $1" Content-Type text/plain
#             printf '%s' "$r"
#           }
#
# Cost (measured on this project's 2-core CI machine; README, "JSON without jq"): a few KB take
# milliseconds; text with nothing to escape about 1 s per 4 MB; 6 MB of ASCII with a quote or a
# newline every 20 bytes about 13 s; non-ASCII text about 15 s per MB (checked sequence by
# sequence). For big bodies, a jq from a layer is faster.

# lambda_json_string VAR TEXT: see above.
lambda_json_string() {
	# Byte semantics: lengths and offsets count bytes, bracket ranges compare byte values.
	local LC_ALL=C _pb_js_ret
	_pb_js_piece "$2"
	printf -v "$1" '"%s"' "$_pb_js_ret"
}

# _pb_js_piece TEXT: sets _pb_js_ret (lambda_json_string's local) to TEXT escaped. bash's
# ${s//pat/rep} costs the length of s for every match, so a long text is halved (never inside a
# UTF-8 sequence) until the pieces are 1 KB: the whole costs n log n, not n squared.
_pb_js_piece() {
	local _pb_jp_s=$1 _pb_jp_mid _pb_jp_left _pb_jp_c _pb_jp_u _pb_jp_i
	if [[ $_pb_jp_s != *[\\\"$'\x01'-$'\x1f'$'\x80'-$'\xff']* ]]; then
		_pb_js_ret=$_pb_jp_s # nothing to escape
		return 0
	fi
	if ((${#_pb_jp_s} > 1024)); then
		_pb_jp_mid=$((${#_pb_jp_s} / 2))
		for _pb_jp_i in 1 2 3; do
			[[ ${_pb_jp_s:_pb_jp_mid:1} == [$'\x80'-$'\xbf'] ]] || break
			_pb_jp_mid=$((_pb_jp_mid + 1))
		done
		_pb_js_piece "${_pb_jp_s:0:_pb_jp_mid}"
		_pb_jp_left=$_pb_js_ret
		_pb_js_piece "${_pb_jp_s:_pb_jp_mid}"
		_pb_js_ret=$_pb_jp_left$_pb_js_ret
		return 0
	fi
	_pb_jp_s=${_pb_jp_s//\\/\\\\}
	_pb_jp_s=${_pb_jp_s//\"/\\\"}
	if [[ $_pb_jp_s == *[$'\x01'-$'\x1f']* ]]; then
		_pb_jp_s=${_pb_jp_s//$'\n'/\\n}
		_pb_jp_s=${_pb_jp_s//$'\r'/\\r}
		_pb_jp_s=${_pb_jp_s//$'\t'/\\t}
		_pb_jp_s=${_pb_jp_s//$'\b'/\\b}
		_pb_jp_s=${_pb_jp_s//$'\f'/\\f}
		for ((_pb_jp_i = 1; _pb_jp_i < 32; _pb_jp_i++)); do
			[[ $_pb_jp_s == *[$'\x01'-$'\x1f']* ]] || break
			printf -v _pb_jp_c '\\x%02x' "$_pb_jp_i"
			# shellcheck disable=SC2059  # the format is the \xNN escape just made
			printf -v _pb_jp_c "$_pb_jp_c"
			[[ $_pb_jp_s == *"$_pb_jp_c"* ]] || continue
			printf -v _pb_jp_u '\\u%04x' "$_pb_jp_i"
			_pb_jp_s=${_pb_jp_s//"$_pb_jp_c"/$_pb_jp_u}
		done
	fi
	if [[ $_pb_jp_s == *[$'\x80'-$'\xff']* ]]; then
		_pb_utf8_clean _pb_jp_s
	fi
	_pb_js_ret=$_pb_jp_s
}

# _pb_utf8_clean VAR: replaces in VAR (a short piece) each byte that is not part of a valid UTF-8
# sequence by U+FFFD. Call it in the C locale.
_pb_utf8_clean() {
	local _pb_u_blk=${!1} _pb_u_out='' _pb_u_pre _pb_u_n
	local _pb_u_hi=[$'\x80'-$'\xff'] _pb_u_cont=[$'\x80'-$'\xbf']
	while :; do
		# shellcheck disable=SC2295  # $_pb_u_hi is a bracket pattern
		_pb_u_pre=${_pb_u_blk%%$_pb_u_hi*}
		_pb_u_out+=$_pb_u_pre
		((${#_pb_u_pre} < ${#_pb_u_blk})) || break
		_pb_u_blk=${_pb_u_blk:${#_pb_u_pre}}
		case $_pb_u_blk in
		[$'\xc2'-$'\xdf']$_pb_u_cont*) _pb_u_n=2 ;;
		$'\xe0'[$'\xa0'-$'\xbf']$_pb_u_cont* | [$'\xe1'-$'\xec\xee\xef']$_pb_u_cont$_pb_u_cont* | \
			$'\xed'[$'\x80'-$'\x9f']$_pb_u_cont*) _pb_u_n=3 ;;
		$'\xf0'[$'\x90'-$'\xbf']$_pb_u_cont$_pb_u_cont* | [$'\xf1'-$'\xf3']$_pb_u_cont$_pb_u_cont$_pb_u_cont* | \
			$'\xf4'[$'\x80'-$'\x8f']$_pb_u_cont$_pb_u_cont*) _pb_u_n=4 ;;
		*) _pb_u_n=1 ;;
		esac
		if ((_pb_u_n == 1)); then
			_pb_u_out+=$'\xef\xbf\xbd'
		else
			_pb_u_out+=${_pb_u_blk:0:_pb_u_n}
		fi
		_pb_u_blk=${_pb_u_blk:_pb_u_n}
	done
	printf -v "$1" '%s' "$_pb_u_out"
}

# lambda_http_response [-b] VAR STATUS BODY [NAME VALUE]...: see above.
lambda_http_response() {
	local _pb_h_b64='' _pb_h_var _pb_h_status _pb_h_body _pb_h_k _pb_h_v _pb_h_headers=''
	if [[ $1 == -b ]]; then
		_pb_h_b64=',"isBase64Encoded":true'
		shift
	fi
	if (($# < 3 || $# % 2 == 0)); then
		printf 'lambda_http_response: usage: lambda_http_response [-b] VAR STATUS BODY [NAME VALUE]...\n' >&2
		return 2
	fi
	_pb_h_var=$1 _pb_h_status=$2
	if [[ $_pb_h_status != [1-5][0-9][0-9] ]]; then
		printf 'lambda_http_response: status %q is not a number from 100 to 599\n' "$_pb_h_status" >&2
		return 2
	fi
	lambda_json_string _pb_h_body "$3"
	shift 3
	while (($#)); do
		lambda_json_string _pb_h_k "$1"
		lambda_json_string _pb_h_v "$2"
		_pb_h_headers+=${_pb_h_headers:+,}$_pb_h_k:$_pb_h_v
		shift 2
	done
	printf -v "$_pb_h_var" '{"statusCode":%d,"headers":{%s},"body":%s%s}' \
		"$((10#$_pb_h_status))" "$_pb_h_headers" "$_pb_h_body" "$_pb_h_b64"
}
