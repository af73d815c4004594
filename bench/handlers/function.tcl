# The benchmark's echo handler for Tcl: the response is the event's JSON text, as it came.
proc handler {event context} { return [dict get $context event_json] }
