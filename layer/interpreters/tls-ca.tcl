# tls-ca.tcl -- polyboot's Tcl layer: let tls find the system's CA certificates.
#
# Sourced by the layer's tls pkgIndex.tcl right after tls is loaded. The bundled OpenSSL 1.1
# (Debian's build) looks for CA certificates in /usr/lib/ssl, which Amazon Linux 2023
# (provided.al2023) lacks; its bundle is /etc/pki/tls/certs/ca-bundle.crt. When neither
# SSL_CERT_FILE nor SSL_CERT_DIR is set and /usr/lib/ssl has no certificates, this makes the
# first system bundle found the default -cafile of every tls::socket and tls::import (tls::init),
# so that `http::register https 443 [list ::tls::socket -autoservername 1 -require 1]` verifies
# servers there. A -cafile or -cadir given to tls::socket wins; a handler's own [tls::init ...]
# replaces these defaults (add `-cafile [tls::polyboot_cafile]` to keep the bundle).

namespace eval ::tls {}

# tls::polyboot_cafile -- the CA bundle polyboot found for tls ("" when OpenSSL's own defaults,
# SSL_CERT_FILE or SSL_CERT_DIR apply, or when the system has none).
proc ::tls::polyboot_cafile {} {
    if {[info exists ::env(SSL_CERT_FILE)] || [info exists ::env(SSL_CERT_DIR)]} {
        return ""
    }
    if {[file exists /usr/lib/ssl/cert.pem]
            || [llength [glob -nocomplain -directory /usr/lib/ssl/certs *]] > 0} {
        return ""
    }
    foreach path {
        /etc/pki/tls/certs/ca-bundle.crt
        /etc/ssl/certs/ca-certificates.crt
        /etc/ssl/cert.pem
    } {
        if {[file isfile $path]} {
            return $path
        }
    }
    return ""
}

apply {{} {
    set bundle [::tls::polyboot_cafile]
    if {$bundle ne ""} {
        ::tls::init -cafile $bundle
    }
}}
