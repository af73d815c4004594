# bench.tcl -- timings of json::decode and of round trips through adapter.tcl.
#
#     tclsh adapters/tcl/tests/bench.tcl ?runs?
#
# Prints the best of `runs` (default 5) for each measurement: on a shared machine the best run
# is the one least disturbed by other processes. Not part of the test suite.

source [file join [file dirname [file normalize [info script]]] harness.tcl]
namespace path {::testlib ::harness}

set runs [expr {[llength $argv] ? [lindex $argv 0] : 5}]
tcltest::configure -tmpdir [file join /tmp polyboot-tcl-bench-[pid]]
file mkdir [tcltest::configure -tmpdir]

proc best {script} {
    global runs
    set times {}
    for {set i 0} {$i < $runs} {incr i} {
        lappend times [uplevel 1 [list ms $script]]
    }
    return [format %.1f [tcl::mathfunc::min {*}$times]]
}

proc report {label size ms} {
    set size [expr {$size >= 1048576 ? [format %.2fMB [expr {$size / 1048576.0}]] : [format %.1fKB [expr {$size / 1024.0}]]}]
    puts [format "%-46s %9s  %8s ms" $label $size $ms]
}

# --- Documents (built one at a time: 50 MB of them at once disturbs the timings) ------------

proc lseq {n} {
    set l {}
    for {set i 0} {$i < $n} {incr i} {
        lappend l $i
    }
    return $l
}
set docs {
    {6 MB string {"data":"..."}}
    {6 MB string, non-ASCII}
    {6 MB string, escapes every 8 chars}
    {100k members "key":"value" (~50 B)}
    {20k members, 300 B values}
    {30k records (array of objects)}
    {600k numbers}
    {400k tiny members "kN":N}
    {50k records (polybench event)}
}
proc doc {label} {
    switch -- $label {
        {6 MB string {"data":"..."}} {
            return "{\"data\":\"[string repeat "The quick brown fox jumps over the lazy dog, 0123456789. " 110000]\"}"
        }
        {6 MB string, non-ASCII} {
            return "{\"data\":\"[string repeat "Zo\u00eb \u00e9t\u00e9 \u4e2d\u6587 [utf8 f09f9880] abcdefghij " 220000]\"}"
        }
        {6 MB string, escapes every 8 chars} {
            return "{\"data\":[json::string [string repeat "a \"q\" \\ b\n" 600000]]}"
        }
        {100k members "key":"value" (~50 B)} {
            return "{[join [lmap i [lseq 100000] {format {"key_%06d":"value %06d of the event, some text"} $i $i}] ,]}"
        }
        {20k members, 300 B values} {
            return "{[join [lmap i [lseq 20000] {format {"key_%06d":"%s"} $i [string repeat "value text " 27]}] ,]}"
        }
        {30k records (array of objects)} {
            return "\[[join [lmap i [lseq 30000] {format {{"id":%d,"name":"user %d","email":"user%d@example.com","active":true,"score":%d.5,"tags":["a","b"],"address":{"city":"Paris","zip":"75001"}}} $i $i $i $i}] ,]\]"
        }
        {600k numbers} {
            return "\[[join [lmap i [lseq 600000] {string cat $i .25}] ,]\]"
        }
        {400k tiny members "kN":N} {
            return "{[join [lmap i [lseq 400000] {string cat \"k $i \": $i}] ,]}"
        }
        {50k records (polybench event)} {
            # bench/event.go's 6 MB event: records, then a padding string.
            set records [join [lmap i [lseq 56362] {format {{"id": %d, "name": "record-%d", "active": true, "score": 0.5, "tags": ["alpha", "beta"], "parent": null}} $i $i}] ", "]
            return "{\"source\": \"polybench\", \"records\": \[$records\], \"pad\": \"[string repeat x 61]\"}"
        }
    }
}

puts "json::decode ([info patchlevel], best of $runs)"
foreach label $docs {
    set text [doc $label]
    report $label [string length [encoding convertto utf-8 $text]] [best {json::decode $text}]
    unset text
}

puts "\njson::string"
set s [string repeat "The quick brown fox jumps over the lazy dog, 0123456789. " 110000]
report {6 MB plain} [string length $s] [best {json::string $s}]
set s [string repeat "a \"q\" \\ b\n\u00e9 " 500000]
report {6 MB with escapes} [string length [encoding convertto utf-8 $s]] [best {json::string $s}]

# --- Round trips through the adapter -------------------------------------------------------

# roundTrips w event n -- milliseconds of n round trips of event (send invoke line .. reply and
# body received), not counting the making of each invocation's FIFO (done beforehand, in
# batches of 100: Tcl's notifier watches at most 1024 descriptors).
proc roundTrips {w event n} {
    set total 0.0
    for {set done 0} {$done < $n} {incr done $batch} {
        set batch [expr {min(100, $n - $done)}]
        set lines {}
        for {set i 0} {$i < $batch} {incr i} {
            lappend lines [encoding convertto utf-8 [invokeLine -body [newBody $w] -event $event]]
        }
        set t [clock microseconds]
        foreach bytes $lines {
            sendBytes $w $bytes
            reply $w   ;# its FIFO is drained as the body arrives, and deleted below
        }
        set total [expr {$total + ([clock microseconds] - $t) / 1000.0}]
        takeBody $w
    }
    return $total
}

puts "\nround trips through adapter.tcl (send invoke line .. reply and body received)"
set w [start echo.tcl handler]
reply $w
foreach label {{6 MB string {"data":"..."}} {6 MB string, non-ASCII} {100k members "key":"value" (~50 B)}
        {50k records (polybench event)}} {
    set event [doc $label]
    set times {}
    for {set i 0} {$i < $runs} {incr i} {
        set fifo [newBody $w]
        set bytes [encoding convertto utf-8 [invokeLine -body $fifo -event $event]]
        lappend times [ms {
            sendBytes $w $bytes
            reply $w
            takeBody $w
        }]
    }
    report "echo, $label" [string length $bytes] [format %.1f [tcl::mathfunc::min {*}$times]]
}
set event [json::object message [json::string [string repeat "hello world " 80]] n [json::number 1]]
set n 1000
set t [roundTrips $w $event $n]
report "echo, 1 KB event, mean of $n" [string length $event] [format %.3f [expr {$t / $n}]]
finish $w
stop $w

set w [start app.tcl app::handler]
reply $w
set t [roundTrips $w {{"action":"count"}} $n]
report "json::object reply, tiny event, mean of $n" 20 [format %.3f [expr {$t / $n}]]
finish $w
stop $w
file delete -force [tcltest::configure -tmpdir]
