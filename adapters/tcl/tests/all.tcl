# all.tcl -- runs the Tcl adapter's tests: tclsh adapters/tcl/tests/all.tcl ?tcltest options?
#
# Each *.test file runs in its own interpreter (the tclsh running this script). Exits non-zero
# when any test fails or a test file errors out. Example: -file json.test -match json-decode-*
package require Tcl 8.6
package require tcltest 2.5

tcltest::configure -testdir [file dirname [file normalize [info script]]] \
    -tmpdir [file join [expr {[info exists ::env(TMPDIR)] ? $::env(TMPDIR) : "/tmp"}] \
        polyboot-tcl-tests-[pid]] \
    {*}$argv
file mkdir [tcltest::configure -tmpdir]
set failed [tcltest::runAllTests]
file delete -force [tcltest::configure -tmpdir]
exit [expr {$failed ? 1 : 0}]
