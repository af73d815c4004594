# TLS check of the Tcl layer, run inside the test chroot by the layer's tclsh.
#
# Starts itself again as an HTTPS server on 127.0.0.1 (tls::socket -server) with a certificate
# from a throw-away CA that the test put where Amazon Linux keeps its CA bundle
# (/etc/pki/tls/certs/ca-bundle.crt), then fetches from it with the http package and the usual
# `http::register https 443 [list ::tls::socket -autoservername 1 ...]`: this passes only if the
# layer's tls finds that bundle by itself (tls-ca.tcl) and really verifies (-require 1; a server
# certificate that is not a CA must be refused as trust anchor).
#
# Usage: tclsh8.6 tls_check.tcl SERVER-CERT SERVER-KEY
#        tclsh8.6 tls_check.tcl serve SERVER-CERT SERVER-KEY   (the server; prints its port)

package require tls
package require http

set body polyboot-tls-ok

proc serve {cert key} {
    set listener [tls::socket -server accept -certfile $cert -keyfile $key -myaddr 127.0.0.1 0]
    puts [lindex [fconfigure $listener -sockname] 2]
    flush stdout
    # The parent closes our stdin when it is done.
    fileevent stdin readable {if {[gets stdin line] < 0} { exit 0 }}
    vwait forever
}

proc accept {chan addr port} {
    fconfigure $chan -blocking 0 -translation crlf
    fileevent $chan readable [list request $chan]
}

proc request {chan} {
    if {[catch {gets $chan line} n] || [eof $chan]} {
        catch {close $chan}
        return
    }
    if {$n < 0} { return }
    if {$line ne ""} { return }
    fconfigure $chan -translation binary
    puts -nonewline $chan "HTTP/1.1 200 OK\r\nContent-Length: [string length $::body]\r\nConnection: close\r\n\r\n$::body"
    catch {close $chan}
}

if {[lindex $argv 0] eq "serve"} {
    serve {*}[lrange $argv 1 2]
}

source [file join [file dirname [file normalize [info script]]] checklib.tcl]

lassign $argv cert key
set server [open |[list [info nameofexecutable] [info script] serve $cert $key] r+]
set port [gets $server]

check "tcl: tls finds the CA bundle at Amazon Linux's path" {
    set got [tls::polyboot_cafile]
    if {$got ne "/etc/pki/tls/certs/ca-bundle.crt"} { error "tls::polyboot_cafile is '$got'" }
    if {[lsearch -exact $::tls::defaults $got] < 0} { error "tls defaults: $::tls::defaults" }
    return "tls::init -cafile $got"
}
check "tcl: HTTPS with http::register https and -require 1" {
    http::register https 443 [list ::tls::socket -autoservername 1 -require 1]
    set token [http::geturl https://localhost:$port/ -timeout 10000]
    set status [http::status $token]
    set data [http::data $token]
    set code [http::ncode $token]
    http::cleanup $token
    if {$status ne "ok" || $code != 200 || $data ne $body} { error "$status $code '$data'" }
    return "http::geturl https://localhost:$port/ verified the server"
}
check "tcl: HTTPS from an unknown CA is refused" {
    # The server's own certificate is no CA: with it as the only trust anchor, the chain fails.
    set chan [tls::socket -autoservername 1 -require 1 -cafile $cert localhost $port]
    set refused [catch {tls::handshake $chan} err]
    catch {close $chan}
    if {!$refused} { error "accepted a server the CA file does not vouch for" }
    if {![string match *verify* $err]} { error "failed, but not in verification: $err" }
    return "refused: $err"
}
check "tcl: the same server with the layer's defaults verifies" {
    set chan [tls::socket -autoservername 1 -require 1 localhost $port]
    tls::handshake $chan
    set status [tls::status $chan]
    catch {close $chan}
    return "handshake done, peer [dict get $status subject]"
}
# The server's errors (a client that gave up mid-handshake, as the refused one does) are not ours.
if {[catch {close $server} err]} {
    puts "# the server said: [string map {\n { }} $err]"
}
exit [expr {$failed ? 1 : 0}]
