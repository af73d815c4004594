# Checks of the Tcl layer, run by its own tclsh from /opt.
#
# Prints one "ok - " or "not ok - " line per check and exits 1 when any failed.
# Usage: tclsh8.6 check_tcl.tcl EXPECTED-SYSTEM-ENCODING

set failed 0

proc check {name script} {
    global failed
    set code [catch {uplevel 1 $script} detail]
    if {$code != 0 && $code != 2} {
        incr failed
        puts "not ok - $name: $detail"
    } elseif {$detail ne ""} {
        puts "ok - $name: $detail"
    } else {
        puts "ok - $name"
    }
}

proc expect {got want} {
    if {$got ne $want} {
        error "got \"$got\", want \"$want\""
    }
    return $got
}

set wantEncoding [lindex $argv 0]

check "tcl: info nameofexecutable under /opt/bin" {
    set exe [info nameofexecutable]
    if {![string match /opt/bin/tclsh* $exe]} { error "it is $exe" }
    set exe
}
check "tcl: script library found beside the executable" {
    expect [info library] /opt/lib/tcl8.6
}
check "tcl: version" {
    if {![string match 8.6.* [info patchlevel]]} { error [info patchlevel] }
    info patchlevel
}
check "tcl: encoding system" {
    expect [encoding system] $wantEncoding
}
check "tcl: encodings from the layer (utf-8, cp1252, shiftjis)" {
    foreach e {utf-8 cp1252 shiftjis iso8859-15} {
        if {$e ni [encoding names]} { error "no $e" }
    }
    expect [encoding convertto cp1252 "\u20ac"] "\x80"
    expect [encoding convertfrom utf-8 "\xc3\xa9"] "\u00e9"
    expect [encoding convertto shiftjis "\u3042"] "\x82\xa0"
    return "[llength [encoding names]] encodings"
}
check "tcl: clock format" {
    expect [clock format 0 -gmt 1 -format {%Y-%m-%d %H:%M:%S}] {1970-01-01 00:00:00}
}
check "tcl: clock scan" {
    expect [clock scan {2021-01-01 00:00:00} -format {%Y-%m-%d %H:%M:%S} -gmt 1] 1609459200
}
check "tcl: clock with Lambda's TZ=:UTC" {
    set ::env(TZ) :UTC
    set s [clock format 86400 -format {%H:%M %Z %A}]
    unset ::env(TZ)
    expect $s {00:00 UTC Friday}
}
check "tcl: clock locale messages (msgs/de.msg)" {
    expect [clock format 86400 -gmt 1 -format %A -locale de] Freitag
}
check "tcl: modules from the layer (msgcat, http, tcltest, platform)" {
    set where {}
    foreach p {msgcat http tcltest platform} {
        set v [package require $p]
        set script [package ifneeded $p $v]
        if {![string match */opt/lib/tcl8/* $script]} { error "$p $v: $script" }
        lappend where "$p $v"
    }
    join $where ", "
}
check "tcl: zlib" {
    set data [string repeat polyboot 50]
    expect [zlib decompress [zlib compress $data]] $data
    return "[string length $data] bytes round trip"
}
check "tcl: every non-glibc shared object comes from /opt" {
    set f [open /proc/self/maps]
    set mapped [dict create]
    foreach line [split [read $f] \n] {
        set path [lindex $line 5]
        if {[string match *.so* $path]} { dict set mapped $path 1 }
    }
    close $f
    set glibc {^(ld-linux[-\w.]*|ld|libc|libm|libpthread|libdl|librt|libutil|libresolv|libnss_\w+)(-[\d.]+)?\.so[\d.]*$}
    set foreign {}
    foreach path [dict keys $mapped] {
        if {![string match /opt/* $path] && ![regexp $glibc [file tail $path]]} { lappend foreign $path }
    }
    if {[llength $foreign]} { error "from outside /opt: $foreign" }
    set ours {}
    foreach path [lsort [dict keys $mapped]] {
        if {[string match /opt/* $path]} { lappend ours $path }
    }
    join $ours " "
}
check "tcl: tiny script" {
    proc fib {n} { expr {$n < 2 ? $n : [fib [expr {$n - 1}]] + [fib [expr {$n - 2}]]} }
    set d [dict create b 2 a 1]
    expect "[fib 15] [lsort [dict keys $d]] [string map {o 0} polyboot] [format %05.1f 3.14159]" \
        {610 a b p0lyb00t 003.1}
}

exit [expr {$failed ? 1 : 0}]
