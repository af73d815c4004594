# adapter.tcl -- the polyboot adapter for Tcl handlers.
#
#     tclsh adapter.tcl <handler file> <function> <module>
#
# Speaks the channel protocol of docs/protocol.md (version 2) with the polyboot bootstrap:
# fd 0 invoke lines in, fd 1 reply lines out, fd 2 logs, and for each invocation the FIFO its
# invoke line names (member "body") for the response body. It sources the handler file once,
# then calls `<function> $event $context` for every invoke line in this one warm interpreter.
# See README.md for what handlers get and the error-type mapping.
#
# What the adapter adds to the interpreter: the namespaces ::json (json.tcl) and ::lambda
# (lambda::remaining_ms), and its own private namespace ::polyboot. It sets no global variable;
# tclsh's own argv, argc and argv0 are left as tclsh set them.

namespace eval ::polyboot {
    # Private channels: the channel in (fd 0) and the channel out (fd 1).
    variable in ""
    variable out ""

    # The current invocation's body FIFO (its path, "" between invocations) and, once the
    # handler's result or lambda::write has opened it, its channel.
    variable bodyPath ""
    variable body ""

    # Caps on an error reply (docs/protocol.md), in UTF-8 bytes: errorMessage, and the
    # stackTrace in all.
    variable maxErrorMessage 262144
    variable maxStackTrace 262144

    # The fully qualified handler command.
    variable handler ""

    # Context members that are the same for every invocation.
    variable staticContext {}

    # Where the procs defined while the handler file was sourced are: qualified name -> {file line}.
    variable procFiles {}

    # How many bytes of an invoke line to decode when looking for the start of its event.
    variable headerPrefix 4096

    # How many bytes of an invoke line FastHeader looks at first (ParseInvoke).
    variable fastHeaderPrefix 65536
}

source [file join [file dirname [file normalize [info script]]] json.tcl]

# ---------------------------------------------------------------------------------------------
# Start-up
# ---------------------------------------------------------------------------------------------

proc ::polyboot::Main {argv} {
    UseUtf8
    OpenChannels
    if {[llength $argv] != 3} {
        InitError Runtime.InvalidEntrypoint \
            "usage: tclsh adapter.tcl <handler file> <function> <module>, got: $argv" {}
    }
    LoadHandler {*}$argv
    Reply [json::object type [json::string ready] protocol [json::number 2]]
    Serve
    exit 0
}

# UseUtf8 -- makes UTF-8 the system encoding: file names, exec arguments and output, the files the
# handler opens, and the environment (Tcl reads an element of ::env from the process environment
# each time, in the system encoding of the moment). Started with an empty locale, tclsh would use
# iso8859-1.
proc ::polyboot::UseUtf8 {} {
    encoding system utf-8
}

# OpenChannels -- reopens fds 0 and 1 as private channels (Tcl marks them close-on-exec, so
# programs the handler runs do not get them), then gives the handler /dev/null as stdin and the
# log stream as stdout: a program the handler runs holds fds 0 (/dev/null), 1 and 2 (the log
# stream) only. On Linux /proc/self/fd/N opens the same pipe again (not /dev/fd/N: Lambda has
# no /dev/fd; e2e TestConformanceSandbox). When a standard channel is closed, Tcl makes the next
# channel opened the new standard channel, and the kernel gives it the lowest free descriptor:
# closing stdin and opening /dev/null puts /dev/null on fd 0 for Tcl and for child processes
# alike.
proc ::polyboot::OpenChannels {} {
    variable in
    variable out

    # Until there is a private channel out, errors are reported on fd 1 as it is. A descriptor
    # that is not open must be noticed before anything is opened: the next descriptor opened
    # would take its number, and /proc/self/fd/N would then name the wrong thing.
    set out stdout
    foreach {chan fd} {stdin 0 stdout 1 stderr 2} {
        if {[catch {fconfigure $chan}]} {
            InitError Runtime.AdapterError "fd $fd is not open" {}
        }
    }
    if {[catch {OpenForWriting /proc/self/fd/1} channel]} {
        InitError Runtime.AdapterError "cannot reopen fd 1 (channel out): $channel" {}
    }
    set out $channel
    fconfigure $out -translation lf -encoding utf-8 -buffering full
    if {[catch {open /proc/self/fd/0 RDONLY} in]} {
        InitError Runtime.AdapterError "cannot reopen fd 0 (channel in): $in" {}
    }
    # Invoke lines are read as bytes: the event is cut out of the line before it is decoded.
    fconfigure $in -translation binary -buffersize 1048576

    close stdin
    open /dev/null RDONLY
    close stdout
    if {[catch {OpenForWriting /proc/self/fd/2} msg]} {
        InitError Runtime.AdapterError "cannot open the log stream (fd 2) as stdout: $msg" {}
    }
    fconfigure stdin -encoding utf-8 -translation lf
    fconfigure stdout -encoding utf-8 -translation lf -buffering line
    fconfigure stderr -encoding utf-8 -translation lf
}

# OpenForWriting path -- opens an inherited descriptor (/proc/self/fd/N) for writing. A regular file
# (a test's log) is opened for appending, so that writes through the new descriptor and through
# the inherited one do not overwrite each other; Tcl seeks to the end for that, which fails on a
# pipe or terminal, where appending means nothing anyway.
proc ::polyboot::OpenForWriting {path} {
    if {[catch {open $path {WRONLY APPEND NOCTTY}} chan]} {
        set chan [open $path {WRONLY NOCTTY}]
    }
    return $chan
}

# LoadHandler file function module -- sources the handler file into the global namespace and
# finds the handler command. Exits with an init_error when either fails.
proc ::polyboot::LoadHandler {file function module} {
    variable handler
    variable staticContext

    if {![file readable $file]} {
        InitError Runtime.ImportModuleError \
            "Unable to import module '$module': cannot read handler file '$file'" {}
    }
    trace add execution proc leave ::polyboot::RecordProc
    set failed [catch {uplevel #0 [list source -encoding utf-8 $file]} msg opts]
    trace remove execution proc leave ::polyboot::RecordProc
    if {$failed} {
        if {[IsImportError [dict get $opts -errorcode] $msg]} {
            InitError Runtime.ImportModuleError "Unable to import module '$module': $msg" \
                [StackTrace [dict get $opts -errorinfo]]
        }
        InitError Runtime.UserCodeSyntaxError "Unable to load '$file': $msg" \
            [StackTrace [dict get $opts -errorinfo]]
    }

    set name $function
    if {![string match ::* $name]} {
        set name ::$name
    }
    set handler [namespace which -command $name]
    if {$handler eq ""} {
        InitError Runtime.HandlerNotFound \
            "Handler '$function' missing on module '$module': no such command after sourcing '$file'" {}
    }
    if {[info procs $handler] ne "" && ![AcceptsTwoArgs $handler]} {
        InitError Runtime.HandlerNotFound \
            "Handler '$function' on module '$module' must take two arguments (event context), it takes: [info args $handler]" {}
    }

    set staticContext [dict create \
        function_name      [EnvOr AWS_LAMBDA_FUNCTION_NAME] \
        function_version   [EnvOr AWS_LAMBDA_FUNCTION_VERSION] \
        memory_limit_in_mb [EnvOr AWS_LAMBDA_FUNCTION_MEMORY_SIZE] \
        log_group_name     [EnvOr AWS_LAMBDA_LOG_GROUP_NAME] \
        log_stream_name    [EnvOr AWS_LAMBDA_LOG_STREAM_NAME]]
}

# IsImportError errorcode message -- 1 when loading the handler file failed because a package it
# requires cannot be had (as Python's ImportError): [package require] found no such package
# (TCL PACKAGE UNFOUND) or no version that satisfies (TCL PACKAGE VERSIONCONFLICT), or a
# package's shared library could not be loaded ("couldn't load file ...", errorcode NONE or
# TCL OPERATION LOAD).
proc ::polyboot::IsImportError {errorcode message} {
    if {[catch {lrange $errorcode 0 2} words]} {
        return 0
    }
    if {$words in {{TCL PACKAGE UNFOUND} {TCL PACKAGE VERSIONCONFLICT}}} {
        return 1
    }
    return [string match "couldn't load file *" $message]
}

# RecordProc command code result op -- execution trace on [proc] while the handler file is
# sourced: notes the file and line where each proc is defined, for stack traces. Best effort: it
# never makes loading fail.
proc ::polyboot::RecordProc {command code result op} {
    variable procFiles
    if {$code != 0} {
        return
    }
    catch {
        set name [uplevel 1 [list namespace which -command [lindex $command 1]]]
        for {set level [info frame]} {$level > 0} {incr level -1} {
            set frame [info frame $level]
            if {[dict exists $frame file] && [dict exists $frame cmd]
                    && [regexp {^\s*proc\s} [dict get $frame cmd]]} {
                dict set procFiles $name [list [dict get $frame file] [dict get $frame line]]
                break
            }
        }
    }
}

# ProcFile name -- {file line} of the proc shown as name in an error trace (qualified, or
# relative to a namespace we do not know: then the one recorded proc it can be), or "".
proc ::polyboot::ProcFile {name} {
    variable procFiles
    set qualified $name
    if {![string match ::* $qualified]} {
        set qualified ::$qualified
    }
    if {[dict exists $procFiles $qualified]} {
        return [dict get $procFiles $qualified]
    }
    set matches [dict keys $procFiles *::$name]
    if {[llength $matches] == 1} {
        return [dict get $procFiles [lindex $matches 0]]
    }
    return ""
}

# AcceptsTwoArgs proc -- 1 when the proc can be called with exactly two arguments.
proc ::polyboot::AcceptsTwoArgs {proc} {
    set params [info args $proc]
    set required 0
    foreach param $params {
        if {$param ne "args" && ![info default $proc $param -]} {
            incr required
        }
    }
    set takesRest [expr {[lindex $params end] eq "args"}]
    return [expr {$required <= 2 && ([llength $params] >= 2 || $takesRest)}]
}

proc ::polyboot::EnvOr {name {default ""}} {
    if {[info exists ::env($name)]} {
        return $::env($name)
    }
    return $default
}

# ---------------------------------------------------------------------------------------------
# Invocations
# ---------------------------------------------------------------------------------------------

# Serve -- answers invoke lines until fd 0 reaches end of file.
proc ::polyboot::Serve {} {
    variable in
    while {[gets $in line] >= 0} {
        if {[eof $in]} {
            break   ;# a partial last line: the bootstrap is gone
        }
        Invoke $line
        unset line
    }
}

# Invoke line -- one invocation, from invoke line to reply.
proc ::polyboot::Invoke {line} {
    variable handler
    variable bodyPath

    if {[catch {ParseInvoke $line} invoke]} {
        # Without a request id there is no valid answer; the bootstrap restarts a worker that exits.
        Log "polyboot: unreadable invoke line ([string length $line] bytes): $invoke"
        exit 1
    }
    set id [dict get $invoke id]
    set bodyPath [dict get $invoke body]
    if {[catch {json::decode [dict get $invoke event_json]} event]} {
        set bodyPath ""
        ReplyError $id Runtime.UnmarshalError "Could not parse the event: $event" {}
        return
    }
    set context [MakeContext $invoke]
    set traceId [dict get $context trace_id]
    if {$traceId eq ""} {
        unset -nocomplain ::env(_X_AMZN_TRACE_ID)
    } else {
        set ::env(_X_AMZN_TRACE_ID) $traceId
    }
    unset invoke

    # Called from the global level, like a command typed at the top of the handler file.
    set code [catch {uplevel #0 [list $handler $event $context]} result opts]
    unset event context
    FlushLogs

    if {$code == 0 || $code == 2} {
        if {[catch {WriteBody $result; CloseBody} msg]} {
            set code -1
        }
    }
    catch {CloseBody}
    set bodyPath ""
    switch -- $code {
        0 - 2 {
            Reply [json::object type [json::string response] id [json::string $id]]
        }
        -1 {
            ReplyError $id Runtime.AdapterError "cannot write the response body: $msg" {}
        }
        1 {
            ReplyError $id [ErrorType [dict get $opts -errorcode]] $result \
                [StackTrace [dict get $opts -errorinfo]]
        }
        default {
            set name [expr {$code == 3 ? "break" : $code == 4 ? "continue" : "return -code $code"}]
            ReplyError $id TclError \
                "handler ended with '$name' ([string range $result 0 199]) instead of returning a result" {}
        }
    }
}

# WriteBody text -- writes text (as UTF-8) to the current invocation's body FIFO, opening it
# first (close-on-exec, as every channel Tcl opens); nothing for an empty text.
proc ::polyboot::WriteBody {text} {
    variable bodyPath
    variable body
    if {$text eq ""} {
        return
    }
    if {$bodyPath eq ""} {
        return -code error "no invocation in progress"
    }
    if {$body eq ""} {
        set body [open $bodyPath {WRONLY NOCTTY}]
        fconfigure $body -translation lf -encoding utf-8 -buffering full -buffersize 1048576
    }
    puts -nonewline $body $text
    flush $body
}

# CloseBody -- closes the body FIFO if it was opened: before the reply, as the protocol asks.
proc ::polyboot::CloseBody {} {
    variable body
    if {$body ne ""} {
        set chan $body
        set body ""
        close $chan
    }
}

# ParseInvoke line -- the members of an invoke line (the raw bytes read from fd 0) as a dict with
# one more member, event_json: the text of the event exactly as it is in the line. A line in the
# exact layout of docs/protocol.md is cut with string searches (FastHeader); any other valid JSON
# object is read member by member (ParseHeader).
#
# FastHeader looks at the line's first fastHeaderPrefix bytes (64 KB), which hold the header
# unless a client context makes it longer (then at the whole line): a string search turns the text
# it searches into characters, and done on a 5 MB line it took 20 ms, and as long again to get the
# event's bytes back out of the characters. The line itself stays bytes, from which the event is
# cut and decoded once.
proc ::polyboot::ParseInvoke {line} {
    variable headerPrefix
    variable fastHeaderPrefix
    set lineLength [string length $line]
    if {[string index $line end] ne "\}"} {
        error "the line does not end with '\}'"
    }
    if {[FastHeader [string range $line 0 $fastHeaderPrefix-1] invoke eventByte]
            || ($lineLength > $fastHeaderPrefix && [FastHeader $line invoke eventByte])} {
        dict set invoke event_json \
            [encoding convertfrom utf-8 [string range $line $eventByte [expr {$lineLength - 2}]]]
        return $invoke
    }
    set size $headerPrefix
    while 1 {
        set prefix [encoding convertfrom utf-8 [string range $line 0 [expr {$size - 1}]]]
        if {![catch {ParseHeader $prefix} parsed]} {
            break
        }
        if {$size >= $lineLength} {
            error $parsed
        }
        # The prefix ended inside a member (or a character): decode more of the line.
        set size [expr {$size * 4}]
    }
    lassign $parsed invoke eventAt
    foreach {name pattern} {id {} body {} deadline_ms {^-?[0-9]+$}} {
        if {![dict exists $invoke $name]} {
            error "member '$name' is missing"
        }
        if {$pattern ne "" && ![regexp $pattern [dict get $invoke $name]]} {
            error "member '$name' is not an integer"
        }
    }
    set eventByte [string length [encoding convertto utf-8 [string range $prefix 0 [expr {$eventAt - 1}]]]]
    dict set invoke event_json \
        [encoding convertfrom utf-8 [string range $line $eventByte [expr {$lineLength - 2}]]]
    return $invoke
}

# FastHeader line invokeVar eventByteVar -- cuts the members before "event" out of a line in the
# exact layout docs/protocol.md gives (the bootstrap's) with string searches, as the bash adapter
# does: a string member ends where '","<next member>":' begins. Sets the dict invokeVar and
# eventByteVar, the byte where the event starts, and returns 1; returns 0 for a line in any other
# layout. (Reading the header member by member, ParseHeader, costs ~150 µs an invocation.)
proc ::polyboot::FastHeader {line invokeVar eventByteVar} {
    upvar 1 $invokeVar invoke $eventByteVar eventByte
    if {![string is digit -strict [string range $line 8 17]]
            || [string range $line 0 7] ne "\{\"len\":\""
            || [string range $line 18 41] ne {","type":"invoke","id":"}} {
        return 0
    }
    set at 42
    set invoke [dict create len [string range $line 8 17] type invoke]
    foreach {name next} {
        id {","body":"} body {","deadline_ms":} deadline_ms {,"invoked_function_arn":"}
        invoked_function_arn {","trace_id":"} trace_id {","client_context":"}
        client_context {","cognito_identity":"} cognito_identity {","tenant_id":"}
        tenant_id {","event":}
    } {
        set end [string first $next $line $at]
        if {$end < 0} {
            return 0
        }
        set value [string range $line $at [expr {$end - 1}]]
        if {$name eq "deadline_ms"} {
            if {![regexp {^-?[0-9]+$} $value]} {
                return 0
            }
        } else {
            set value [encoding convertfrom utf-8 $value]
            if {[string first \\ $value] >= 0} {
                set value [json::impl::StringValue $value]
            }
        }
        dict set invoke $name $value
        set at [expr {$end + [string length $next]}]
    }
    set eventByte $at
    return 1
}

# ParseHeader text -- reads the members of the invoke object up to "event". Returns a list: the
# dict of the members before it, and the index in text where the event's value starts.
proc ::polyboot::ParseHeader {text} {
    set i [json::impl::SkipWs $text 0]
    if {[string index $text $i] ne "\{"} {
        error "the line is not a JSON object"
    }
    set members {}
    while 1 {
        set i [json::impl::SkipWs $text [expr {$i + 1}]]
        if {[string index $text $i] ne "\""} {
            error "expected a member name at offset $i"
        }
        set end [json::impl::ScanString $text $i]
        set name [json::impl::StringValue [string range $text [expr {$i + 1}] [expr {$end - 2}]]]
        set i [json::impl::SkipWs $text $end]
        if {[string index $text $i] ne ":"} {
            error "expected ':' at offset $i"
        }
        set i [json::impl::SkipWs $text [expr {$i + 1}]]
        if {$name eq "event"} {
            return [list $members $i]
        }
        set end [json::impl::Scan $text $i]
        switch -- [string index $text $i] {
            "\"" {
                set value [json::impl::StringValue \
                    [string range $text [expr {$i + 1}] [expr {$end - 2}]]]
            }
            "\{" - "\[" {
                set value [json::decode [string range $text $i [expr {$end - 1}]]]
            }
            default {
                set value [string range $text $i [expr {$end - 1}]]   ;# number or literal
            }
        }
        dict set members $name $value
        set i [json::impl::SkipWs $text $end]
        switch -- [string index $text $i] {
            , {}
            "\}" {error "no 'event' member"}
            default {error "expected ',' after member '$name' at offset $i"}
        }
    }
}

# MakeContext invoke -- the context dict handed to the handler.
proc ::polyboot::MakeContext {invoke} {
    variable staticContext
    return [dict merge \
        [dict create \
            request_id           [dict get $invoke id] \
            deadline_ms          [dict get $invoke deadline_ms] \
            invoked_function_arn [Member $invoke invoked_function_arn]] \
        $staticContext \
        [dict create \
            trace_id       [Member $invoke trace_id] \
            client_context [OptionalJson client_context [Member $invoke client_context]] \
            identity       [OptionalJson cognito_identity [Member $invoke cognito_identity]] \
            tenant_id      [Member $invoke tenant_id] \
            event_json     [dict get $invoke event_json]]]
}

proc ::polyboot::Member {dict name} {
    if {[dict exists $dict $name]} {
        return [dict get $dict $name]
    }
    return ""
}

# OptionalJson member text -- the decoded JSON text of a header member, or "" when it is empty
# or not valid JSON (logged).
proc ::polyboot::OptionalJson {member text} {
    if {$text eq ""} {
        return ""
    }
    if {[catch {json::decode $text} value]} {
        Log "polyboot: ignoring $member, it is not valid JSON: $value"
        return ""
    }
    return $value
}

# ---------------------------------------------------------------------------------------------
# Replies, errors and logs
# ---------------------------------------------------------------------------------------------

proc ::polyboot::Reply {line} {
    variable out
    puts $out $line
    flush $out
}

proc ::polyboot::ReplyError {id type message stackTrace} {
    Reply [json::object \
        type         [json::string error] \
        id           [json::string $id] \
        errorType    [json::string $type] \
        errorMessage [json::string [BoundedMessage $message]] \
        stackTrace   [json::array_of_strings [BoundedTrace $stackTrace]]]
}

# InitError type message stackTrace -- reports that the handler cannot be loaded, and exits.
proc ::polyboot::InitError {type message stackTrace} {
    Reply [json::object \
        type         [json::string init_error] \
        errorType    [json::string $type] \
        errorMessage [json::string [BoundedMessage $message]] \
        stackTrace   [json::array_of_strings [BoundedTrace $stackTrace]]]
    exit 1
}

# CutUtf8 text limit -- {cut dropped}: text cut to at most limit bytes of UTF-8 at a character
# boundary, and how many bytes of its UTF-8 that dropped.
proc ::polyboot::CutUtf8 {text limit} {
    set bytes [encoding convertto utf-8 $text]
    set size [string length $bytes]
    if {$size <= $limit} {
        return [list $text 0]
    }
    # Back off to the start of a character: continuation bytes are 10xxxxxx.
    set end $limit
    while {$end > 0 && ([scan [string index $bytes $end] %c] & 0xC0) == 0x80} {
        incr end -1
    }
    return [list [encoding convertfrom utf-8 [string range $bytes 0 [expr {$end - 1}]]] \
        [expr {$size - $end}]]
}

# BoundedMessage message -- errorMessage cut to maxErrorMessage bytes of UTF-8, suffix included.
proc ::polyboot::BoundedMessage {message} {
    variable maxErrorMessage
    if {[string length $message] <= $maxErrorMessage / 4} {
        return $message   ;# at most 4 bytes a character: short enough
    }
    lassign [CutUtf8 $message [expr {$maxErrorMessage - 64}]] cut dropped
    if {$dropped == 0} {
        return $message
    }
    return "$cut \[\u2026 $dropped bytes truncated\]"
}

# BoundedTrace lines -- the stackTrace cut to maxStackTrace bytes of UTF-8 in all; when lines
# were cut or dropped, a last line says how many bytes.
proc ::polyboot::BoundedTrace {lines} {
    variable maxStackTrace
    if {[string length [join $lines]] <= $maxStackTrace / 4} {
        return $lines
    }
    set budget [expr {$maxStackTrace - 64}]
    set kept {}
    set dropped 0
    foreach line $lines {
        if {$dropped} {
            incr dropped [string length [encoding convertto utf-8 $line]]
            continue
        }
        lassign [CutUtf8 $line $budget] cut lost
        lappend kept $cut
        incr budget [expr {-[string length [encoding convertto utf-8 $cut]]}]
        incr dropped $lost
    }
    if {$dropped} {
        lappend kept "\[\u2026 $dropped bytes truncated\]"
    }
    return $kept
}

# ErrorType errorcode -- the errorType reported for a Tcl error: the leading words of -errorcode
# that look like names (letters, digits, '_' and '.'), at most three, joined with dots.
# {MYAPP NOTFOUND} -> MYAPP.NOTFOUND, {POSIX ENOENT {no such file}} -> POSIX.ENOENT,
# {TCL LOOKUP COMMAND foo} -> TCL.LOOKUP.COMMAND, Function.Custom -> Function.Custom,
# NONE or nothing usable -> TclError.
proc ::polyboot::ErrorType {errorcode} {
    set words {}
    if {[catch {llength $errorcode}]} {
        return TclError   ;# not a list
    }
    foreach word $errorcode {
        if {[llength $words] == 3 || ![regexp {^[A-Za-z_][A-Za-z0-9_.]*$} $word]} {
            break
        }
        lappend words $word
    }
    if {$words eq "" || $words eq "NONE"} {
        return TclError
    }
    return [join $words .]
}

# StackTrace errorinfo -- the lines of -errorinfo, without the adapter's own frames: everything
# from the `uplevel` that ran the handler (or the source command) on. A line naming a proc the
# handler files define gets the file and line it points to:
#     (procedure "app::handler" line 3, file "/var/task/function.tcl" line 14)
proc ::polyboot::StackTrace {errorinfo} {
    set at [string last "\n    (\"uplevel\" body line 1)" $errorinfo]
    if {$at >= 0} {
        set errorinfo [string range $errorinfo 0 [expr {$at - 1}]]
        # ...and the command the uplevel ran, which shows the (possibly large) arguments.
        set at [string last "\n    invoked from within\n" $errorinfo]
        if {$at < 0} {
            set at [string last "\n    while executing\n" $errorinfo]
        }
        if {$at >= 0} {
            set errorinfo [string range $errorinfo 0 [expr {$at - 1}]]
        }
    }
    set lines {}
    foreach line [split $errorinfo \n] {
        if {[regexp {^    \(procedure "(.+)" line (\d+)\)$} $line -> name n]
                && [set where [ProcFile $name]] ne ""} {
            lassign $where file first
            set line "    (procedure \"$name\" line $n, file \"$file\" line [expr {$first + $n - 1}])"
        }
        lappend lines $line
    }
    return $lines
}

# FlushLogs -- pushes out what the handler wrote, so its log lines reach the bootstrap before
# the reply does.
proc ::polyboot::FlushLogs {} {
    catch {flush stdout}
    catch {flush stderr}
}

proc ::polyboot::Log {message} {
    catch {puts stderr $message}
}

# ---------------------------------------------------------------------------------------------
# For handlers
# ---------------------------------------------------------------------------------------------

namespace eval ::lambda {}

# lambda::remaining_ms context -- milliseconds left before the invocation's deadline (never < 0).
proc ::lambda::remaining_ms {context} {
    set deadline [dict get $context deadline_ms]
    if {![string is entier -strict $deadline]} {
        return -code error "lambda::remaining_ms: deadline_ms is not an integer: $deadline"
    }
    set left [expr {$deadline - [clock milliseconds]}]
    return [expr {$left > 0 ? $left : 0}]
}

# lambda::write text -- sends text (as UTF-8) as part of the response right away. With response
# streaming on (POLYBOOT_STREAM_RESPONSE=1) each call reaches the caller as it is made; the
# handler's result, if not empty, is sent after what it wrote. An error outside an invocation.
proc ::lambda::write {text} {
    ::polyboot::WriteBody $text
}

# Run when started as the main script; sourcing the file only defines the procs (unit tests).
if {[info exists ::argv0] && [file normalize $::argv0] eq [file normalize [info script]]} {
    if {[catch {::polyboot::Main $::argv} msg opts]} {
        ::polyboot::Log "polyboot: adapter failed: [dict get $opts -errorinfo]"
        exit 1
    }
}
