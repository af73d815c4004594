# Conformance handlers for the Tcl adapter (e2e/conformance_test.go).
set count 0
proc echo {event context} { return [dict get $context event_json] }
proc context {event context} {
    set trace ""
    if {[info exists ::env(_X_AMZN_TRACE_ID)]} { set trace $::env(_X_AMZN_TRACE_ID) }
    set cc [dict get $context client_context]
    set identity [dict get $context identity]
    set identity_id [expr {$identity eq "" ? "" : [dict get $identity cognitoIdentityId]}]
    json::object \
        request_id    [json::string [dict get $context request_id]] \
        deadline_ms   [json::number [dict get $context deadline_ms]] \
        arn           [json::string [dict get $context invoked_function_arn]] \
        trace_id      [json::string $trace] \
        function_name [json::string [dict get $context function_name]] \
        remaining_ms  [json::number [lambda::remaining_ms $context]] \
        client_context [expr {$cc eq "" ? [json::null] : [json::object custom [json::object_of_strings [dict get $cc custom]]]}] \
        identity_id   [json::string $identity_id] \
        tenant_id     [json::string [dict get $context tenant_id]]
}
proc fail {event context} { error boom }
proc logs {event context} { puts log-marker; return "{}" }
proc counter {event context} { incr ::count; return "{\"count\":$::count}" }
proc crash {event context} { puts stderr dying; flush stderr; exit 3 }
proc slow {event context} {
    if {[dict exists $event fast]} { return "{}" }
    puts stderr "slow start"; flush stderr; exec sleep 300 & ; after 301000
}
proc noise {event context} {
    puts -nonewline partial
    puts -nonewline "\x01\xff\r"
    puts [string repeat N 1000000]
    puts -nonewline stderr err-tail
    return {{"ok":true}}
}
