# A polyboot Tcl handler. Set the function's handler to "function.handler".
# The event arrives decoded (objects are dicts), the context is a dict. The handler returns
# the response as JSON text, built with json::object, json::string, ... puts goes to the log.

set invocations 0 ;# globals survive between invocations: the interpreter stays warm

proc handler {event context} {
    incr ::invocations
    set name world
    catch {set name [dict get $event name]} ;# when the event is an object with a "name"
    set id [dict get $context request_id]
    set left [lambda::remaining_ms $context] ;# the milliseconds left before the deadline
    puts "request $id: invocation $::invocations of this environment, $left ms left"
    json::object \
        message      [json::string "Hello, $name, from Tcl [info patchlevel]!"] \
        request_id   [json::string $id] \
        remaining_ms [json::number $left] \
        invocations  [json::number $::invocations] \
        event        [dict get $context event_json]
}
