# json.tcl -- a JSON reader and writer in pure Tcl 8.6 (no tcllib, no C extension).
#
# Reading:
#     json::decode text          -> Tcl value
#         object -> dict, array -> list, string -> string, number -> its JSON text,
#         true / false / null -> the words true / false / null.
#         Invalid JSON raises an error with errorcode {JSON SYNTAX offset} (or {JSON DEPTH offset}
#         for nesting deeper than json::impl::maxDepth) and a message giving line, column and offset.
#
# Writing (every proc returns JSON text; values passed to array/object are JSON texts):
#     json::string s             -> "..." (quotes, backslashes and control characters escaped,
#                                   everything else as raw UTF-8)
#     json::number n             -> n, if it is a JSON number (error otherwise)
#     json::bool b               -> true / false, from any Tcl boolean (1, 0, yes, no, on, off, ...)
#     json::null                 -> null
#     json::array ?json ...?     -> [json,...]
#     json::object ?key json ...?-> {"key":json,...}
#     json::array_of_strings list  -> ["a","b",...]
#     json::object_of_strings dict -> {"k":"v",...}
#
# How decoding is fast: a JSON text is turned into Tcl list syntax and Tcl's own (C) list parser
# builds the value. JSON strings are already valid Tcl list "quoted elements" once escaped quotes
# are written as \x22 and braces as \{ \}: every JSON escape (\" \\ \/ \b \f \n \r \t \uXXXX) is a
# Tcl backslash sequence with the same meaning. The text is split at its quotes (C), the parts
# outside strings -- the skeleton -- are checked against the JSON grammar with a few regular
# expressions and string maps that run in C, brackets become braces and ':' ',' become spaces,
# and [format] puts the strings back. No Tcl-level loop runs per character, and only a trivial one
# per string. Nothing in the text is ever evaluated. When the fast check fails (or the nesting
# is too deep for it), a precise scanner walks the text token by token to report the first error
# with its position. Texts of many small strings that hold no brackets, braces, commas or colons
# (records of ids, names, numbers and flags) take a shorter path, Direct: every one of those is
# structure, so the whole text is checked with regular expressions that take a string as one
# token and rewritten with one string map, without splitting it at the quotes.
#
# Inside namespace ::json the commands [string] and [array] are json's own: code here uses
# ::string where it means Tcl's command. The machinery lives in ::json::impl, which is private.

package require Tcl 8.6

namespace eval ::json {
    namespace eval impl {
        # Deepest nesting of arrays and objects that json::decode accepts.
        variable maxDepth 10000

        # A JSON number, and the characters numbers and the literals true/false/null are made of.
        variable numberRE {-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?}
        variable scalarRE "(?:$numberRE|true|false|null)"
        variable scalarChars {0-9a-zA-Z.+\-}

        # The contents of a JSON string: anything but quote, backslash and control characters,
        # or a valid escape.
        variable stringBodyRE {(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*}

        # Escaping for json::string. The common characters come first; the rest of U+0000-U+001F
        # only when such a character is present (string map's cost grows with its key count).
        variable commonEscapes [list \\ \\\\ \" \\\" \n \\n \r \\r \t \\t]
        variable controlEscapes [list \b \\b \f \\f]
        for {set c 0} {$c < 0x20} {incr c} {
            if {[format %c $c] ni {\n \r \t \b \f}} {
                lappend controlEscapes [format %c $c] [format {\u%04x} $c]
            }
        }
        unset c
    }
}

# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

# json::decode text -- the Tcl value of the JSON text (see the top of this file for the mapping).
proc ::json::decode {text} {
    return [impl::Decode $text]
}

proc ::json::impl::Decode {text} {
    if {[DeepPrefix $text]} {
        Validate $text   ;# raises the depth error, with its position
    }
    if {[::string length $text] >= 3072 && [DirectPaysOff $text] && [Direct $text value]} {
        return $value
    }
    return [DecodeSplit $text]
}

# DeepPrefix text -- 1 when the first 64 KB or the first 1 MB of the text open at least maxDepth
# more brackets and braces than they close, as the usual hostile texts do (an object in an object,
# a million times): too deep (or, when some of them are in strings, the scanner will tell), known
# by a few string maps, without the passes of the fast paths. (A deep text that this misses is
# still checked in linear time: Flatten and NestingStatus.)
proc ::json::impl::DeepPrefix {text} {
    variable maxDepth
    if {[::string length $text] <= $maxDepth} {
        return 0
    }
    foreach n {65536 1048576} {
        set prefix [::string range $text 0 $n-1]
        set length [::string length $prefix]
        set opened [expr {$length - [::string length [::string map {\[ "" \{ ""} $prefix]]}]
        set closed [expr {$length - [::string length [::string map {\] "" \} ""} $prefix]]}]
        if {$opened - $closed >= $maxDepth} {
            return 1
        }
        if {$length < $n} {
            return 0
        }
    }
    return 0
}

# DecodeSplit text -- json::decode by the general path: Prepare, and on failure Validate.
proc ::json::impl::DecodeSplit {text} {
    set status [Prepare $text fmt strings]
    if {$status ne "ok"} {
        # Raises an error with a position when the text is invalid.
        Validate $text
        if {$status eq "invalid"} {
            return -code error -errorcode {JSON INTERNAL} \
                "json::decode: internal error: fast check rejected a text the scanner accepts"
        }
    }
    # fmt is one Tcl list element: an array or object in braces, a quoted string or a scalar.
    # Unbraced, an array or object is its own value; the rest is taken out of the list. Without
    # strings there is nothing to put back (and no '%' in fmt: LexicallyValid allows none).
    # (No [expr {$c ? $a : $b}] here: expr would turn a value like 1.50 into a number.)
    if {[::string index $fmt 0] eq "\{"} {
        set fmt [::string range $fmt 1 end-1]
        if {[llength $strings]} {
            set fmt [format $fmt {*}$strings]
        }
        return $fmt
    }
    if {[llength $strings]} {
        set fmt [format $fmt {*}$strings]
    }
    return [lindex $fmt 0]
}

# DirectPaysOff text -- 1 when Direct is worth trying on the text, judged by its first 32K
# characters: they must be of the kind Direct takes (up to the cut), with many values in them.
# Direct costs more than Prepare on small texts, on texts of a few long strings, and when it
# fails (the caller tries it on texts of 3 KB or more). The thresholds are where the two cost the
# same on texts of 4 KB to 6 MB: 3 KB of dense records; one string or number per ~150 characters.
proc ::json::impl::DirectPaysOff {text} {
    variable directPrefixRE
    set sample [::string range $text 0 32767]
    if {[::string first \\ $sample] >= 0} {
        set sample [::string map {\\\\ __ \\\" __} $sample]
    }
    regexp -indices $directPrefixRE $sample span
    set n [::string length $sample]
    return [expr {[lindex $span 1] >= $n - 512 && [llength [split $sample {",}]] * 150 > $n}]
}

# Direct text valueVar -- the fastest path, for dense texts of records like bench/event.go's:
# compact JSON or JSON written the way Python's json.dumps writes it (one space after ',' and
# ':', no other whitespace outside strings), whose strings hold none of the characters
# [ ] { } , : nor a raw control character. In such a text those characters are all structure,
# so it becomes Tcl list syntax with one string map; the checks are regular expressions that
# take a whole string as one token. No split at the quotes, no Tcl object per string. Sets value and returns 1 when the text is
# valid JSON of that kind; returns 0 when it is not (invalid, or another kind: Prepare decides).
proc ::json::impl::Direct {text valueVar} {
    upvar 1 $valueVar value
    variable directRE
    variable directValueRE
    variable directContainerRE

    if {[::string first \\ $text] >= 0} {
        if {![EscapesValid $text]} {
            return 0
        }
        # As in Prepare: every quote left then delimits a string.
        set text [::string map {\\\\ \\\\ \\\" \\x22} $text]
    }
    # The tokens are right and in a right order (as LexicallyValid checks)...
    if {![regexp $directRE $text]} {
        return 0
    }
    # ... and they nest as the JSON grammar says (as GrammarStatus checks them: by passes within
    # the depth they reach, else by Flatten and NestingStatus).
    if {[WithinPassDepth $text]} {
        set skeleton $text
        set pass 0
        while {![regexp $directValueRE $skeleton]} {
            if {[incr pass] > 22 || ![regsub -all $directContainerRE $skeleton # skeleton]} {
                return 0
            }
        }
    } else {
        # (Decode has already sent a text whose start is too deep to the scanner: DeepPrefix.)
        set skeleton $text
        set levels [Flatten $directContainerRE skeleton]
        # What is left as a skeleton: a string is one token, braces escaped, no whitespace.
        regsub -all {"[^"]*"} $skeleton \x01 skeleton
        set skeleton [::string map {\{ \\\{ \} \\\} " " ""} $skeleton]
        if {[NestingStatus $skeleton $levels] ne "ok"} {
            return 0
        }
    }
    unset skeleton
    if {[::string first " " $text] >= 0} {
        set text [::string map {", " " " ": " " " , " " : " " \[ \{ \] \}} $text]
    } else {
        set text [::string map {, " " : " " \[ \{ \] \}} $text]
    }
    if {[::string index $text 0] eq "\{"} {
        set value [::string range $text 1 end-1]
    } else {
        set value [lindex $text 0]
    }
    return 1
}

# Prepare text fmtVar stringsVar -- the fast path. Sets fmt to the skeleton in Tcl list syntax
# with a "%s" in place of each string, and strings to the string contents in order, ready to be
# put back with [format]. Returns ok (the text is valid JSON), invalid, or unsure (valid as far
# as the fast check can tell, but nested too deeply for it: the caller validates with the scanner).
proc ::json::impl::Prepare {text fmtVar stringsVar} {
    upvar 1 $fmtVar fmt $stringsVar strings

    # Raw control characters: only JSON whitespace, and only outside strings (checked below).
    set hasControl [regexp {[\x00-\x1f]} $text]
    if {$hasControl && [regexp {[\x00-\x08\x0b\x0c\x0e-\x1f]} $text]} {
        return invalid
    }

    # Escapes. \" becomes \x22 so that every quote left in the text delimits a string; \\ maps to
    # itself so that string map consumes it as a pair (\\" is a backslash, then the closing quote).
    # Braces become \{ \} so that strings cannot unbalance the braces of the Tcl list text.
    if {[::string first \\ $text] >= 0} {
        if {![EscapesValid $text]} {
            return invalid
        }
        set text [::string map {\\\\ \\\\ \\\" \\x22 \{ \\\{ \} \\\}} $text]
    } else {
        set text [::string map {\{ \\\{ \} \\\}} $text]
    }

    # Even elements are outside strings, odd ones are string contents.
    set parts [split $text \"]
    if {[llength $parts] % 2 == 0} {
        return invalid
    }
    set strings [lrange [lmap {outside inside} $parts {set inside}] 0 end-1]
    set skeleton [join [lmap {outside inside} $parts {set outside}] \x01]
    unset parts text

    if {$hasControl && [regexp {[\t\n\r]} [join $strings ""]]} {
        return invalid
    }
    if {![LexicallyValid $skeleton]} {
        return invalid
    }
    # Insignificant whitespace goes: the grammar check wants none, and without it containers of
    # numbers print as canonical Tcl lists.
    foreach ws {" " "\t" "\n" "\r"} {
        if {[::string first $ws $skeleton] >= 0} {
            set skeleton [::string map {" " "" \t "" \n "" \r ""} $skeleton]
            break
        }
    }
    set status [GrammarStatus $skeleton]
    if {$status eq "invalid"} {
        return invalid
    }
    set fmt [::string map {\[ \{ \] \} : " " , " " \\\{ \{ \\\} \} \x01 {"%s"}} $skeleton]
    return $status
}

# EscapesValid text -- 1 when every backslash in text starts a valid JSON escape. Escaped
# backslashes go first (string map works left to right, so \\ pairs are consumed whole; '_' is
# no hex digit, so they cannot complete a \u escape); every backslash left then starts an escape
# and must be followed by one of "/bfnrt or by u and four hex digits.
proc ::json::impl::EscapesValid {text} {
    if {[::string first \\\\ $text] >= 0} {
        set text [::string map {\\\\ _} $text]
    }
    return [expr {![regexp {\\(?:[^"/bfnrtu]|u(?![0-9a-fA-F]{4}))} $text]}]
}

# LexicallyValid skeleton -- 1 when the text outside strings (each string replaced by \x01,
# braces escaped as \{ \}) has only structure, whitespace and strings between scalars, every
# scalar is a number or a literal, and two scalars are never separated by whitespace alone.
# One regular expression, one pass; it also rules out a stray backslash and any other character
# (a '%' would reach [format]).
proc ::json::impl::LexicallyValid {skeleton} {
    variable skeletonRE
    return [regexp $skeletonRE $skeleton]
}

# GrammarStatus skeleton -- checks the whitespace-free skeleton against the JSON grammar: arrays
# and objects up to three levels deep are reduced to "#" until one value is left; each pass
# removes three levels of nesting everywhere, usually in one long match. A skeleton nested deeper
# than those passes reach (WithinPassDepth) is reduced by them only while they take much of it
# away (Flatten: the records of a deep text); what is left, its deep spine, on which a pass would
# take a fraction of a second per megabyte and remove three levels, is checked by NestingStatus
# in one walk. Returns ok, invalid, or unsure (NestingStatus).
proc ::json::impl::GrammarStatus {skeleton} {
    variable valueRE
    variable containerRE
    variable flatArrayRE
    variable flatObjectRE
    if {[::string length $skeleton] <= 16384} {
        # A short skeleton: a level per pass, by a regular expression that compiles in microseconds
        # (the three-level one takes milliseconds, which a worker's first small event would pay).
        for {set pass 0} {$pass < 66} {incr pass} {
            if {[regexp $valueRE $skeleton]} {
                return ok
            }
            if {[regsub -all $flatArrayRE $skeleton # skeleton]
                    + [regsub -all $flatObjectRE $skeleton # skeleton] == 0} {
                return invalid
            }
        }
        return [NestingStatus $skeleton 66]
    }
    if {[WithinPassDepth $skeleton]} {
        for {set pass 0} {$pass < 22} {incr pass} {
            if {[regexp $valueRE $skeleton]} {
                return ok
            }
            if {![regsub -all $containerRE $skeleton # skeleton]} {
                return invalid
            }
        }
        return unsure
    }
    if {[DeepPrefix $skeleton]} {
        return unsure   ;# strings are gone from the skeleton: a long one no longer hides a deep spine
    }
    set levels [Flatten $containerRE skeleton]
    return [NestingStatus $skeleton $levels]
}

# Flatten re skeletonVar -- reduces the containers that re matches in the text in skeletonVar to
# "#" for as long as a pass takes at least an eighth of the text away, four passes at most (the
# records of a deep text take one or two); returns how many levels of nesting a "#" may then
# stand for (each pass reduces up to three).
proc ::json::impl::Flatten {re skeletonVar} {
    upvar 1 $skeletonVar skeleton
    for {set passes 0} {$passes < 4} {incr passes} {
        set before [::string length $skeleton]
        if {![regsub -all $re $skeleton # reduced] || 8 * ($before - [::string length $reduced]) < $before} {
            break
        }
        set skeleton $reduced
    }
    return [expr {3 * $passes}]
}

# NestingStatus skeleton reduced -- GrammarStatus by a walk over the skeleton's tokens with a stack:
# linear in the skeleton at any depth, one step of Tcl per token. The tokens are already known to
# be right (LexicallyValid); this checks their order and nesting. reduced is how many levels of
# nesting "#" may stand for: a text that may then nest deeper than maxDepth is unsure (Validate
# reports the depth exactly).
proc ::json::impl::NestingStatus {skeleton reduced} {
    variable maxDepth
    variable tokenRE
    set stack ""    ;# one character per open container: o (object) or a (array)
    set state value ;# value, first (a value or the close), key, firstkey (a key or the close), colon, after
    # The tokens, a chunk at a time (cut after a ',', which ends no token but itself), so that a
    # text found too deep early is not tokenized to its end.
    for {set from 0} {$from < [::string length $skeleton]} {set from [expr {$to + 1}]} {
        set to [::string first , $skeleton [expr {$from + 65536}]]
        if {$to < 0} {
            set to [::string length $skeleton]
        }
        foreach token [regexp -all -inline $tokenRE [::string range $skeleton $from $to]] {
            switch -exact -- $token {
                "\\\{" - "\[" {
                    if {$state ni {value first}} {
                        return invalid
                    }
                    if {[::string length $stack] + $reduced >= $maxDepth} {
                        return unsure
                    }
                    if {$token eq "\["} {
                        append stack a
                        set state first
                    } else {
                        append stack o
                        set state firstkey
                    }
                }
                "\]" - "\\\}" {
                    set want [expr {$token eq "\]" ? "a" : "o"}]
                    if {$state ni {after first firstkey} || [::string index $stack end] ne $want
                            || ($state eq "first" && $want ne "a")
                            || ($state eq "firstkey" && $want ne "o")} {
                        return invalid
                    }
                    set stack [::string range $stack 0 end-1]
                    set state after
                }
                "," {
                    if {$state ne "after" || $stack eq ""} {
                        return invalid
                    }
                    set state [expr {[::string index $stack end] eq "o" ? "key" : "value"}]
                }
                ":" {
                    if {$state ne "colon"} {
                        return invalid
                    }
                    set state value
                }
                default {
                    # A string, a scalar or a reduced container: a key where a key is due.
                    if {$token eq "\x01" && $state in {key firstkey}} {
                        set state colon
                    } elseif {$state in {value first}} {
                        set state after
                    } else {
                        return invalid
                    }
                }
            }
        }
    }
    return [expr {$stack eq "" && $state eq "after" ? "ok" : "invalid"}]
}

# WithinPassDepth text -- 1 when the brackets and braces of text nest at most passDepth levels
# deep (the most that GrammarStatus's and Direct's passes reduce), 0 when deeper or unbalanced.
# One regular expression, run as a DFA: linear in the text, where the passes themselves take
# seconds per megabyte on deep texts. Brackets inside strings must already be gone (Prepare's
# skeleton) or absent (Direct's texts).
proc ::json::impl::WithinPassDepth {text} {
    variable depthRE
    return [regexp $depthRE $text]
}

# Regular expressions for LexicallyValid and GrammarStatus.
namespace eval ::json::impl {
    apply {{} {
        variable scalarRE
        variable scalarChars
        variable skeletonRE
        variable valueRE
        variable containerRE

        set ws {[ \t\n\r]}
        set punct {(?:[\x01\[\]:,]|\\[{}])}
        set sep "(?:$ws|$punct)"
        set skeletonRE "^${sep}*(?:${scalarRE}(?:$ws*$punct$sep*|$ws*\$))*\$"

        # A value in the whitespace-free skeleton: a scalar, a string, or an already reduced
        # container. container(v) is an array or object whose members are v.
        set value "(?:\[$scalarChars\]+|\x01|#)"
        set valueRE "^$value\$"
        set v $value
        for {set level 1} {$level <= 3} {incr level} {
            set container "\\\\\\{(?:\x01:${v}(?:,\x01:$v)*)?\\\\\\}|\\\[(?:${v}(?:,$v)*)?\\\]"
            set v "(?:$value|$container)"
            if {$level == 1} {
                # Containers of values only, arrays and objects apart: two simple expressions
                # match twice as fast as their alternation.
                variable flatArrayRE "\\\[(?:${value}(?:,$value)*)?\\\]"
                variable flatObjectRE "\\\\\\{(?:\x01:${value}(?:,\x01:$value)*)?\\\\\\}"
            }
        }
        set containerRE $container

        # The tokens of a skeleton, for NestingStatus: an escaped brace, a bracket, ':', ',', a
        # reduced container, a string, or a scalar.
        variable tokenRE {\\[{}]|[],:#\x01[]|[}
        append tokenRE $scalarChars {]+}

        # Text whose brackets and braces nest at most passDepth levels (22 passes of 3 levels).
        variable passDepth 66
        variable depthRE
        set nested {[^][{}]*}
        for {set level 1} {$level <= $passDepth} {incr level} {
            set nested "(?:\[^\]\[\{\}\]|\[\[\{\]$nested\[\]\}\])*"
        }
        set depthRE "^$nested\$"

        # The same for Direct, on the text itself: a string, '"' to '"', is one token, and has
        # neither structure nor control characters in it; braces are not escaped; the only
        # whitespace outside strings is one space after ',' or ':'.
        variable directRE
        variable directValueRE
        variable directContainerRE
        set str {"[^"\x00-\x1f\[\]{},:]*"}
        set punct "(?:$str|\[\\\[\\\]\{\}\]|\[,:\] ?)"
        set directRE "^${punct}*(?:${scalarRE}(?:$punct+|\$))*\$"
        variable directPrefixRE "^(?:$punct|\[$scalarChars\])*"
        set value "(?:\[$scalarChars\]+|\"\[^\"\]*\"|#)"
        set directValueRE "^$value\$"
        set v $value
        for {set level 1} {$level <= 3} {incr level} {
            set member {"[^"]*": ?}
            append member $v
            set container "\\{(?:${member}(?:, ?$member)*)?\\}|\\\[(?:${v}(?:, ?$v)*)?\\\]"
            set v "(?:$value|$container)"
        }
        set directContainerRE $container
    } ::json::impl}
}

# Validate text -- walks the whole text and raises an error at the first place where it is not
# valid JSON. Returns nothing when it is valid.
proc ::json::impl::Validate {text} {
    set end [SkipWs $text [Scan $text 0]]
    if {$end < [::string length $text]} {
        Fail $text $end "unexpected data after the JSON value"
    }
}

# Scan text i -- skips one JSON value starting at index i (after optional whitespace) and returns
# the index just after it. Raises an error with the position when the text is not valid JSON there.
# Iterative: nesting depth is limited by maxDepth, not by the Tcl or C stack.
proc ::json::impl::Scan {text i} {
    variable maxDepth
    set stack ""   ;# one character per open container: o (object) or a (array)
    set expectValue 1
    while 1 {
        if {$expectValue} {
            set i [SkipWs $text $i]
            switch -exact -- [::string index $text $i] {
                "\{" - "\[" {
                    if {[::string length $stack] >= $maxDepth} {
                        Fail $text $i "nesting deeper than $maxDepth levels" DEPTH
                    }
                    set open [::string index $text $i]
                    set i [SkipWs $text [expr {$i + 1}]]
                    set close [::string index $text $i]
                    if {($open eq "\{" && $close eq "\}") || ($open eq "\[" && $close eq "\]")} {
                        incr i   ;# empty container
                        set expectValue 0
                    } elseif {$open eq "\{"} {
                        append stack o
                        set i [ScanKey $text $i]
                    } else {
                        append stack a
                    }
                }
                "\"" {
                    set i [ScanString $text $i]
                    set expectValue 0
                }
                default {
                    set i [ScanScalar $text $i]
                    set expectValue 0
                }
            }
            continue
        }
        # After a value: done at the top level, else ',' or the end of the enclosing container.
        if {$stack eq ""} {
            return $i
        }
        set i [SkipWs $text $i]
        set c [::string index $text $i]
        set inObject [expr {[::string index $stack end] eq "o"}]
        if {$c eq ","} {
            set i [expr {$i + 1}]
            if {$inObject} {
                set i [ScanKey $text [SkipWs $text $i]]
            }
            set expectValue 1
        } elseif {($inObject && $c eq "\}") || (!$inObject && $c eq "\]")} {
            incr i
            set stack [::string range $stack 0 end-1]
        } elseif {$inObject} {
            Fail $text $i "expected ',' or '\}' after an object member"
        } else {
            Fail $text $i "expected ',' or '\]' after an array element"
        }
    }
}

# ScanKey text i -- an object key and its colon at i; returns the index after the colon.
proc ::json::impl::ScanKey {text i} {
    if {[::string index $text $i] ne "\""} {
        Fail $text $i "expected a string as object key"
    }
    set i [SkipWs $text [ScanString $text $i]]
    if {[::string index $text $i] ne ":"} {
        Fail $text $i "expected ':' after the object key"
    }
    return [expr {$i + 1}]
}

# ScanString text i -- the string starting with the quote at i; returns the index after its
# closing quote.
proc ::json::impl::ScanString {text i} {
    variable stringBodyRE
    regexp -start [expr {$i + 1}] -indices "\\A$stringBodyRE" $text span
    set end [expr {[lindex $span 1] + 1}]
    set c [::string index $text $end]
    if {$c eq "\""} {
        return [expr {$end + 1}]
    }
    if {$c eq ""} {
        Fail $text $i "unterminated string"
    } elseif {$c eq "\\"} {
        Fail $text $end "invalid escape in string"
    } else {
        Fail $text $end [format "unescaped control character U+%04X in string" [scan $c %c]]
    }
}

# ScanScalar text i -- a number or true/false/null at i; returns the index after it.
proc ::json::impl::ScanScalar {text i} {
    variable scalarRE
    variable scalarChars
    if {![regexp -start $i -indices "\\A\[$scalarChars\]+" $text span]} {
        if {$i >= [::string length $text]} {
            Fail $text $i "unexpected end of input, expected a value"
        }
        Fail $text $i "expected a value"
    }
    set word [::string range $text {*}$span]
    if {![regexp "^$scalarRE\$" $word]} {
        if {[::string length $word] > 40} {
            set word "[::string range $word 0 39]..."
        }
        Fail $text $i "invalid number or literal '$word'"
    }
    return [expr {[lindex $span 1] + 1}]
}

# SkipWs text i -- the index of the first non-whitespace character at or after i.
proc ::json::impl::SkipWs {text i} {
    if {[::string index $text $i] ni {" " "\t" "\n" "\r"}} {
        return $i
    }
    regexp -start $i -indices {\A[ \t\n\r]*} $text span
    return [expr {[lindex $span 1] + 1}]
}

# Fail text i message ?kind? -- raises the error for a problem at character offset i.
proc ::json::impl::Fail {text i message {kind SYNTAX}} {
    set before [::string range $text 0 [expr {$i - 1}]]
    set line [expr {[regexp -all {\n} $before] + 1}]
    set column [expr {$i - [::string last \n $before]}]
    return -code error -level 2 -errorcode [list JSON $kind $i] \
        "invalid JSON: $message at line $line, column $column (offset $i)"
}

# StringValue content -- the value of a JSON string from the text between its quotes, which must
# already be known to be valid (ScanString).
proc ::json::impl::StringValue {content} {
    return [lindex "\"[::string map {\\\\ \\\\ \\\" \\x22 \{ \\\{ \} \\\}} $content]\"" 0]
}

# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

# json::string s -- s as a JSON string.
#
# json::string and json::array shadow Tcl's [string] and [array] for code that runs in the ::json
# namespace, which tcllib's json package (package require json) shares with these commands. So
# that it works, a call in the form of Tcl's command (json::string with more than one argument,
# json::array whose first argument is one of [array]'s subcommands, never valid JSON text) is
# passed on to it.
proc ::json::string {s args} {
    if {[llength $args]} {
        tailcall ::string $s {*}$args
    }
    variable impl::commonEscapes
    variable impl::controlEscapes
    # One scan decides whether anything needs escaping at all.
    if {![regexp {["\\\x00-\x1f\ud800-\udfff]} $s]} {
        return "\"$s\""
    }
    set s [::string map $commonEscapes $s]
    if {[regexp {[\x00-\x08\x0b\x0c\x0e-\x1f]} $s]} {
        set s [::string map $controlEscapes $s]
    }
    # Tcl 8.6 keeps characters above U+FFFF as surrogate pairs, which are written as proper
    # UTF-8. A lone surrogate has no UTF-8 form: write it as an escape.
    if {[regexp {[\ud800-\udfff]} $s]} {
        set s [impl::EscapeLoneSurrogates $s]
    }
    return "\"$s\""
}

proc ::json::impl::EscapeLoneSurrogates {s} {
    if {![regexp {[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]} $s]} {
        return $s   ;# pairs only
    }
    set out ""
    set from 0
    foreach span [regexp -all -inline -indices {[\ud800-\udbff][\udc00-\udfff]|[\ud800-\udfff]} $s] {
        lassign $span first last
        if {$first == $last} {
            append out [::string range $s $from [expr {$first - 1}]] \
                [format {\u%04x} [scan [::string index $s $first] %c]]
            set from [expr {$last + 1}]
        }
    }
    return [append out [::string range $s $from end]]
}

# json::number n -- n, which must be written as a JSON number (no hex, no Inf/NaN, no leading +).
proc ::json::number {n} {
    variable impl::numberRE
    if {![regexp "^$numberRE\$" $n]} {
        return -code error -errorcode {JSON VALUE NUMBER} \
            "json::number: not a JSON number: [impl::Excerpt $n]"
    }
    return $n
}

# json::bool b -- true or false, from any Tcl boolean.
proc ::json::bool {b} {
    if {[::string is true -strict $b]} {
        return true
    }
    if {[::string is false -strict $b]} {
        return false
    }
    return -code error -errorcode {JSON VALUE BOOL} \
        "json::bool: not a boolean: [impl::Excerpt $b]"
}

# json::null -- null.
proc ::json::null {} {
    return null
}

# json::array ?value ...? -- a JSON array of the given JSON texts. (Tcl's [array] when called as
# it is: see json::string.)
proc ::json::array {args} {
    if {[lindex $args 0] in {anymore donesearch exists get names nextelement set size
            startsearch statistics unset}} {
        tailcall ::array {*}$args
    }
    foreach value $args {
        impl::CheckJson $value json::array "element"
    }
    return "\[[join $args ,]\]"
}

# json::object ?key value ...? -- a JSON object; keys are Tcl strings, values JSON texts.
proc ::json::object {args} {
    if {[llength $args] % 2} {
        return -code error -errorcode {JSON VALUE ARGS} \
            "json::object: expected key value pairs, got [llength $args] arguments"
    }
    set members {}
    foreach {key value} $args {
        impl::CheckJson $value json::object "value for key [impl::Excerpt $key]"
        lappend members "[string $key]:$value"
    }
    return "\{[join $members ,]\}"
}

# json::array_of_strings list -- a JSON array of strings.
proc ::json::array_of_strings {list} {
    return "\[[join [lmap s $list {string $s}] ,]\]"
}

# json::object_of_strings dict -- a JSON object whose values are strings.
proc ::json::object_of_strings {dict} {
    set members {}
    dict for {key value} $dict {
        lappend members "[string $key]:[string $value]"
    }
    return "\{[join $members ,]\}"
}

# CheckJson value caller what -- a cheap guard against the usual builder mistake, passing a plain
# Tcl value where JSON text is expected ([json::object name Bob] instead of
# [json::object name [json::string Bob]]). Texts starting with a quote, brace or bracket are
# trusted; anything else must be a number or true/false/null.
proc ::json::impl::CheckJson {value caller what} {
    variable scalarRE
    # [string match] looks at the first characters only; [string index] or [regexp] would first
    # convert a large non-ASCII value to UTF-16.
    if {[::string match {[\"\{\[]*} $value]} {
        return
    }
    set trimmed [::string trim $value " \t\n\r"]
    if {[::string match {[\"\{\[]*} $trimmed] || [regexp "^$scalarRE\$" $trimmed]} {
        return
    }
    return -code error -level 2 -errorcode {JSON VALUE NOTJSON} \
        "$caller: $what is not JSON text: [Excerpt $value] (wrap strings with json::string)"
}

# Excerpt s -- s quoted and shortened, for error messages.
proc ::json::impl::Excerpt {s} {
    if {[::string length $s] > 60} {
        set s "[::string range $s 0 56]..."
    }
    return "\"$s\""
}

package provide polyboot::json 1.0
