# The concurrency row's handler (copied as function.sh): an I/O-bound 10 ms handler that echoes
# the event. `sleep` forks, which is fine here: the handler waits rather than computes.
handler() { sleep 0.01; printf '%s' "$1"; }
