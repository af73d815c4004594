# testlib.tcl -- helpers shared by the Tcl adapter's test files.

package require Tcl 8.6
package require tcltest 2.5

namespace eval ::testlib {
    variable here [file dirname [file normalize [info script]]]
    variable adapterDir [file dirname $here]
}
source [file join $::testlib::adapterDir json.tcl]

# hex s -- the UTF-8 bytes of s in hex, for byte-exact comparisons.
proc ::testlib::hex {s} {
    binary scan [encoding convertto utf-8 $s] H* h
    return $h
}

# utf8 hex -- the string whose UTF-8 encoding is the given bytes (in hex).
proc ::testlib::utf8 {hex} {
    return [encoding convertfrom utf-8 [binary format H* $hex]]
}

# decodeError text -- "errorcode kind: message" of json::decode on an invalid text.
proc ::testlib::decodeError {text} {
    if {![catch {json::decode $text} msg opts]} {
        return "no error: $msg"
    }
    return "[lrange [dict get $opts -errorcode] 0 1] [lindex [dict get $opts -errorcode] 2]: $msg"
}

# Typed trees describe the expected Tcl value of a JSON text, since decoding loses types:
#   {str s} {num text} {lit true|false|null} {arr {tree ...}} {obj {key tree key tree ...}}
# same value tree -- 1 when the decoded value matches the tree, else a description of the first
# difference.
proc ::testlib::same {value tree {path ""}} {
    lassign $tree type want
    switch -- $type {
        str - num - lit {
            if {$value ne $want} {
                return "$path: got [list $value], want [list $want]"
            }
        }
        arr {
            if {[llength $value] != [llength $want]} {
                return "$path: got [llength $value] elements, want [llength $want]"
            }
            set i 0
            foreach v $value t $want {
                set r [same $v $t $path/$i]
                if {$r ne "1"} {
                    return $r
                }
                incr i
            }
        }
        obj {
            # Duplicate keys: the last one wins, as in a dict.
            set expected [dict create {*}$want]
            if {[dict size $value] != [dict size $expected]} {
                return "$path: got [dict size $value] members, want [dict size $expected]"
            }
            dict for {k t} $expected {
                if {![dict exists $value $k]} {
                    return "$path: member [list $k] missing"
                }
                set r [same [dict get $value $k] $t $path/$k]
                if {$r ne "1"} {
                    return $r
                }
            }
        }
        default {
            error "bad tree type $type"
        }
    }
    return 1
}

# Random JSON documents, for property tests. rand n -- an integer in [0, n).
proc ::testlib::rand {n} {
    return [expr {int(rand() * $n)}]
}

# randomString -- a string mixing ASCII, JSON and Tcl special characters, control characters,
# non-ASCII and astral characters (as Tcl 8.6 surrogate pairs).
proc ::testlib::randomString {} {
    set pool [list a b z A Z 0 9 " " \" \\ / \{ \} \[ \] : , \$ \; # % \t \n \r \b \f \x00 \x01 \x1f \
        \x7f \u00e9 \u00ff \u0100 \u4e2d \u2028 \ufeff \uffff [utf8 f09f9880] [utf8 f0908d88] \
        "\\u0041" "\\\\" x22]
    set s ""
    set n [rand 12]
    for {set i 0} {$i < $n} {incr i} {
        append s [lindex $pool [rand [llength $pool]]]
    }
    return $s
}

# randomNumber -- a JSON number as text.
proc ::testlib::randomNumber {} {
    set n [lindex {0 -0 1 -1 12 123456789012345678901234567890 0.5 -0.25 1e5 1E-5 2.5e+10 -7.0E0} \
        [rand 12]]
    return $n
}

# randomWs -- insignificant whitespace, mostly none.
proc ::testlib::randomWs {} {
    return [lindex [list "" "" "" " " "\t" "\n" "\r\n" "  \n\t"] [rand 8]]
}

# randomDoc depth -- a list {json tree}: a random JSON text and its typed tree.
proc ::testlib::randomDoc {depth} {
    set kind [rand [expr {$depth > 0 ? 6 : 4}]]
    switch -- $kind {
        0 {
            set s [randomString]
            return [list [json::string $s] [list str $s]]
        }
        1 {
            set n [randomNumber]
            return [list $n [list num $n]]
        }
        2 {
            set l [lindex {true false null} [rand 3]]
            return [list $l [list lit $l]]
        }
        3 {
            # An escaped string: every character as \uXXXX or a short escape.
            set s [randomString]
            set text ""
            # string index walks UTF-16 code units, so astral characters come out as surrogates.
            for {set j 0} {$j < [string length $s]} {incr j} {
                set c [string index $s $j]
                append text [expr {$c eq "/" ? "\\/" : [format {\u%04x} [scan $c %c]]}]
            }
            return [list "\"$text\"" [list str $s]]
        }
        4 {
            set texts {}
            set trees {}
            for {set i [rand 5]} {$i > 0} {incr i -1} {
                lassign [randomDoc [expr {$depth - 1}]] t tree
                lappend texts "[randomWs]$t[randomWs]"
                lappend trees $tree
            }
            return [list "\[[randomWs][join $texts ,]\]" [list arr $trees]]
        }
        5 {
            set texts {}
            set members {}
            for {set i [rand 5]} {$i > 0} {incr i -1} {
                set k [randomString]
                lassign [randomDoc [expr {$depth - 1}]] t tree
                lappend texts "[randomWs][json::string $k][randomWs]:[randomWs]$t[randomWs]"
                lappend members $k $tree
            }
            return [list "\{[randomWs][join $texts ,]\}" [list obj $members]]
        }
    }
}

# mutate text -- text with one random edit: a character deleted, duplicated or replaced by a
# JSON-significant one. Often, but not always, invalid.
proc ::testlib::mutate {text} {
    set n [string length $text]
    set i [rand [expr {$n + 1}]]
    set c [lindex [list \" \\ \{ \} \[ \] : , 0 - . e t n " " \x01 \n u] [rand 18]]
    switch -- [rand 3] {
        0 {return [string replace $text $i $i]}
        1 {return [string range $text 0 [expr {$i - 1}]]$c[string range $text $i end]}
        2 {return [string replace $text $i $i $c]}
    }
}

# nested depth open close ?inner? -- open^depth inner close^depth.
proc ::testlib::nested {depth open close {inner ""}} {
    return "[string repeat $open $depth]$inner[string repeat $close $depth]"
}

# ms script -- milliseconds one run of script takes, in the caller's scope.
proc ::testlib::ms {script} {
    set t [clock microseconds]
    uplevel 1 $script
    return [expr {([clock microseconds] - $t) / 1000.0}]
}
