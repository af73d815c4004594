# Checks of the Tcl layer, run by its own tclsh from /opt.
#
# Prints one "ok - " or "not ok - " line per check and exits 1 when any failed.
# Usage: tclsh8.6 check_tcl.tcl EXPECTED-SYSTEM-ENCODING

source [file join [file dirname [file normalize [info script]]] checklib.tcl]

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
check "tcl: batteries come from the layer" {
    set where {}
    foreach p {json tls sqlite3 tdom Thread} {
        set v [package require $p]
        set script [package ifneeded $p $v]
        if {![string match */opt/lib/* $script]} { error "$p $v: $script" }
        lappend where "$p $v"
    }
    join $where ", "
}
check "tcl: tcllib json, json::write, base64, sha256, uri, csv" {
    package require json
    package require json::write
    package require base64
    package require sha256
    package require uri
    package require csv
    set d [json::json2dict {{"a": [1, 2, {"b": "\u00e9"}], "c": null}}]
    expect [dict get [lindex [dict get $d a] 2] b] "\u00e9"
    expect [json::write object a [json::write string x\"y]] "{\n    \"a\" : \"x\\\"y\"\n}"
    expect [base64::encode polyboot] cG9seWJvb3Q=
    expect [sha2::sha256 -hex abc] ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    expect [dict get [uri::split https://example.com:8443/p?q=1] port] 8443
    expect [csv::split {a,"b,c",1}] {a b,c 1}
}
check "tcl: sqlite3" {
    package require sqlite3
    sqlite3 db :memory:
    db eval {create table t (k text, v integer)}
    db eval {insert into t values ('a', 1), ('b', 2)}
    set sum [db eval {select sum(v) from t}]
    set version [db eval {select sqlite_version()}]
    db close
    expect $sum 3
    return "sqlite $version"
}
check "tcl: tdom" {
    package require tdom
    set doc [dom parse {<a><b n="1">x</b><b n="2">y</b></a>}]
    set root [$doc documentElement]
    set texts {}
    foreach node [$root selectNodes {//b[@n>1]}] { lappend texts [$node text] }
    set html [dom parse -html5 {<p>hi<br>there</p>}]
    set p [$html selectNodes {//*[local-name()="p"]}]
    $doc delete
    expect "$texts [$p asText]" "y hithere"
}
check "tcl: Thread" {
    package require Thread
    set t [thread::create {thread::wait}]
    set r [thread::send $t {expr {6 * 7}}]
    thread::release $t
    tsv::set polyboot k v
    expect "$r [tsv::get polyboot k]" "42 v"
}
check "tcl: tls" {
    package require tls
    set ctx [tls::ciphers tls1.2]
    if {[llength $ctx] == 0} { error "no TLS 1.2 ciphers" }
    return "tls [package provide tls], [tls::version], [llength $ctx] TLS 1.2 ciphers"
}
check "tcl: every non-glibc shared object comes from /opt" {
    foreach p {tls sqlite3 tdom Thread} { package require $p }   ;# load every bundled library
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
