# The Tcl handler of the image test: reports the interpreter that answered, and the event.
proc handler {event context} {
    return "{\"lang\":\"tcl\",\"version\":\"[info tclversion]\",\"exe\":\"[info nameofexecutable]\",\"event\":[dict get $context event_json]}"
}
