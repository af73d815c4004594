# The benchmark's echo handler for bash: the response is the event, as it came.
handler() { printf '%s' "$1"; }
