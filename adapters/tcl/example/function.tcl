# A Tcl handler for polyboot: _HANDLER=function.handler
proc handler {event context} {
    set name world
    if {[dict exists $event name]} {
        set name [dict get $event name]
    }
    puts "hello $name, [lambda::remaining_ms $context] ms left"   ;# goes to the log
    incr ::calls                                                   ;# survives between calls
    return [json::object \
        message    [json::string "Hello, $name!"] \
        calls      [json::number $::calls] \
        request_id [json::string [dict get $context request_id]]]
}
