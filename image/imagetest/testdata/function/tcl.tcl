proc handler {event context} {
    return "{\"lang\":\"tcl\",\"version\":\"[info tclversion]\",\"exe\":\"[info nameofexecutable]\",\"event\":[dict get $context event_json]}"
}
