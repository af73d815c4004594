# harness.tcl -- runs adapter.tcl as a worker process, the way the bootstrap does, for tests.
#
# The worker is started as
#     env -i PATH=... <env> bash -c '<close fds above 2>; exec "$@" 2>>LOG' bash <tclsh> adapter.tcl <file> <function> <module>
# so it sees an empty environment (tclsh then defaults to iso8859-1) plus what the test gives.
# fd 0 and fd 1 are pipes to this process, fd 2 a log file, and nothing else (channel protocol
# v2). Each invocation gets a fresh FIFO for its body, opened here before its invoke line is
# sent and read as the bootstrap reads it (continuously, so large bodies do not block the
# worker), then drained, closed and deleted at the reply.

source [file join [file dirname [file normalize [info script]]] testlib.tcl]

namespace eval ::harness {
    variable tclsh [info nameofexecutable]
    variable adapter [file join $::testlib::adapterDir adapter.tcl]
    variable fixtures [file join $::testlib::here fixtures]
    variable seq 0
    variable timeoutMs 20000
}

# harness::start file function ?-module name? ?-env {name value ...}? -- starts a worker for
# the handler file (a name in fixtures/ or a path) and returns its handle.
proc ::harness::start {file function args} {
    variable tclsh
    variable adapter
    variable fixtures
    variable seq
    set opts [dict merge {-module function -env {}} $args]
    if {[file pathtype $file] ne "absolute"} {
        set file [file join $fixtures $file]
    }
    set w ::harness::worker[incr seq]
    set dir [tcltest::makeDirectory worker$seq]
    file mkdir $dir
    file attributes $dir -permissions 0700
    set log [file join $dir log]
    close [open $log w]

    namespace eval $w {
        variable replies {}
        variable bodies {}
        variable fifos {}
        variable fifoSeq 0
        variable eof 0
    }
    set ${w}::log $log
    set ${w}::dir $dir

    set env [dict merge [list PATH /usr/bin:/bin] [dict get $opts -env]]
    # Descriptors this test process inherited (not close-on-exec) must not reach the worker.
    set script {for f in /proc/$$/fd/*; do n=${f##*/}; ((n > 2)) && eval "exec $n>&-"; done 2>/dev/null
        l=$1; shift; exec "$@" 2>>"$l"}
    # Arguments (and so the environment given here) are encoded in the system encoding.
    set encoding [encoding system]
    encoding system utf-8
    try {
        set chan [open |[list /usr/bin/env -i {*}[lmap {k v} $env {string cat $k = $v}] \
            /bin/bash -c $script bash $log $tclsh $adapter $file $function \
            [dict get $opts -module]] r+]
    } finally {
        encoding system $encoding
    }
    fconfigure $chan -translation binary -blocking 0 -buffering none
    set ${w}::chan $chan
    set ${w}::pid [pid $chan]
    fileevent $chan readable [list ::harness::ReadReplies $w]
    return $w
}

proc ::harness::ReadReplies {w} {
    upvar #0 ${w}::chan chan ${w}::replies replies ${w}::eof eof
    while {[gets $chan line] >= 0} {
        lappend replies [encoding convertfrom utf-8 $line]
    }
    if {[eof $chan]} {
        fileevent $chan readable {}
        set eof 1
    }
}

# harness::newBody w -- a new body FIFO for the next invoke line, already open for reading (RDWR,
# so that reads find nothing rather than end of file before the worker opens it); its path.
proc ::harness::newBody {w} {
    upvar #0 ${w}::dir dir ${w}::fifos fifos ${w}::fifoSeq fifoSeq
    set path [file join $dir body-[incr fifoSeq]]
    exec mkfifo -m 0600 $path
    set chan [open $path {RDWR NONBLOCK}]
    fconfigure $chan -translation binary -blocking 0
    fileevent $chan readable [list ::harness::ReadBody $w $chan]
    lappend fifos $chan $path
    return $path
}

proc ::harness::ReadBody {w chan} {
    upvar #0 ${w}::bodies bodies
    dict append bodies $chan [read $chan]
}

# harness::reply w -- the next reply line, decoded into a dict; an error when the worker ends
# or nothing comes within the timeout.
proc ::harness::reply {w} {
    variable timeoutMs
    upvar #0 ${w}::replies replies ${w}::eof eof
    set timer [after $timeoutMs [list set ${w}::eof timeout]]
    while {![llength $replies] && !$eof} {
        vwait ${w}::replies
    }
    after cancel $timer
    if {![llength $replies]} {
        error "no reply from the worker ([expr {$eof eq "timeout" ? "timeout" : "end of file"}]); log: [log $w]"
    }
    set replies [lassign $replies line]
    set ${w}::lastLine $line
    # Decoded containers print with their JSON quotes; rebuilt here so that replies compare
    # as plain Tcl dicts and lists.
    set reply [dict create {*}[json::decode $line]]
    if {[dict exists $reply stackTrace]} {
        dict set reply stackTrace [lrange [dict get $reply stackTrace] 0 end]
    }
    return $reply
}

# harness::rawReply w -- the text of the last reply line taken by harness::reply.
proc ::harness::rawReply {w} {
    return [set ${w}::lastLine]
}

# harness::invokeLine ?-id id? ?-body path? ?-event json? ?-deadline ms? ?-trace t? ?-cc text?
# ?-identity text? ?-tenant t? ?-arn arn? -- an invoke line in the exact layout of
# docs/protocol.md (version 2), ending in \n. -body is the FIFO (harness::newBody).
proc ::harness::invokeLine {args} {
    set o [dict merge [list -id req-1 -body /nonexistent/body -event {{}} \
        -deadline [expr {[clock milliseconds] + 60000}] -trace "" -cc "" -identity "" -tenant "" \
        -arn arn:aws:lambda:us-east-1:123456789012:function:polyboot-test] $args]
    set rest ",\"type\":\"invoke\",\"id\":[json::string [dict get $o -id]]"
    append rest ",\"body\":[json::string [dict get $o -body]]"
    append rest ",\"deadline_ms\":[dict get $o -deadline]"
    foreach {member opt} {invoked_function_arn -arn trace_id -trace client_context -cc
                          cognito_identity -identity tenant_id -tenant} {
        append rest ",\"$member\":[json::string [dict get $o $opt]]"
    }
    append rest ",\"event\":[dict get $o -event]\}\n"
    set len [expr {19 + [string length [encoding convertto utf-8 $rest]]}]
    return "\{\"len\":\"[format %010d $len]\"$rest"
}

# harness::send w line -- writes a line (characters) to the worker's fd 0 as UTF-8.
proc ::harness::send {w line} {
    sendBytes $w [encoding convertto utf-8 $line]
}

# harness::sendBytes w bytes -- writes bytes to the worker's fd 0.
proc ::harness::sendBytes {w bytes} {
    upvar #0 ${w}::chan chan
    puts -nonewline $chan $bytes
    flush $chan
}

# harness::call w ?invokeLine options? -- one invocation: returns a dict with the reply (a dict),
# the body (the bytes written to its FIFO, decoded from UTF-8), bodyBytes, and fifo (its path).
proc ::harness::call {w args} {
    set fifo [newBody $w]
    send $w [invokeLine -body $fifo {*}$args]
    set reply [reply $w]
    set bytes [takeBody $w]
    return [dict create reply $reply body [encoding convertfrom utf-8 $bytes] bodyBytes $bytes \
        fifo $fifo]
}

# harness::takeBody w -- the body bytes received so far in the FIFOs made since the last call
# (all of them, once a reply has come: the worker closes the body before it writes the reply);
# closes and deletes those FIFOs, so that a late writer gets EPIPE or ENOENT.
proc ::harness::takeBody {w} {
    upvar #0 ${w}::fifos fifos ${w}::bodies bodies
    set bytes ""
    foreach {chan path} $fifos {
        dict append bodies $chan [read $chan]
        append bytes [dict get $bodies $chan]
        close $chan
        file delete $path
    }
    set fifos {}
    set bodies {}
    return $bytes
}

# harness::log w -- what the worker wrote to fd 2 so far.
proc ::harness::log {w} {
    set f [open [set ${w}::log] r]
    fconfigure $f -encoding utf-8 -translation lf
    set text [read $f]
    close $f
    return $text
}

# harness::finish w -- closes the worker's fd 0 and returns its exit status (or "timeout").
proc ::harness::finish {w} {
    variable timeoutMs
    upvar #0 ${w}::chan chan ${w}::eof eof
    if {$chan eq ""} {
        return [set ${w}::status]
    }
    catch {close $chan write}
    set timer [after $timeoutMs [list set ${w}::eof timeout]]
    while {!$eof} {
        vwait ${w}::eof
    }
    after cancel $timer
    return [Reap $w [expr {$eof eq "timeout"}]]
}

# harness::wait w -- waits for the worker to exit on its own; returns its exit status.
proc ::harness::wait {w} {
    variable timeoutMs
    upvar #0 ${w}::chan chan ${w}::eof eof
    set timer [after $timeoutMs [list set ${w}::eof timeout]]
    while {!$eof} {
        vwait ${w}::eof
    }
    after cancel $timer
    return [Reap $w [expr {$eof eq "timeout"}]]
}

proc ::harness::Reap {w kill} {
    upvar #0 ${w}::chan chan ${w}::pid pid
    if {$kill} {
        catch {exec kill -9 {*}$pid}
    }
    fileevent $chan readable {}
    fconfigure $chan -blocking 1
    set status 0
    if {[catch {close $chan} msg opts]} {
        set code [dict get $opts -errorcode]
        set status [expr {[lindex $code 0] eq "CHILDSTATUS" ? [lindex $code 2] : $msg}]
    }
    if {$kill} {
        set status timeout
    }
    catch {takeBody $w}
    set chan ""
    set ${w}::status $status
    return $status
}

# harness::stop w -- ends a worker whatever its state (test cleanup).
proc ::harness::stop {w} {
    if {[set ${w}::chan] ne ""} {
        upvar #0 ${w}::pid pid
        catch {exec kill -9 {*}$pid}
        Reap $w 0
    }
    tcltest::removeDirectory [file tail [set ${w}::dir]]
    namespace delete $w
}
