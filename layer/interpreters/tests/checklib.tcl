# checklib.tcl -- check and expect, for the Tcl layer's check scripts (check_tcl.tcl,
# tls_check.tcl): each check prints one "ok - " or "not ok - " line; ::failed counts failures.

set ::failed 0

# check name script -- runs script in the caller's scope; it passes unless it raises an error
# (a `return` passes, with its value as the detail).
proc check {name script} {
    set code [catch {uplevel 1 $script} detail]
    if {$code != 0 && $code != 2} {
        incr ::failed
        puts "not ok - $name: $detail"
    } elseif {$detail ne ""} {
        puts "ok - $name: $detail"
    } else {
        puts "ok - $name"
    }
}

# expect got want -- returns got, or raises an error when it is not want.
proc expect {got want} {
    if {$got ne $want} {
        error "got \"$got\", want \"$want\""
    }
    return $got
}
