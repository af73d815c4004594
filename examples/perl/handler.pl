#!/usr/bin/env perl
# A handler that speaks polyboot's channel protocol itself (docs/protocol.md), with no adapter.
# Make it executable and set the handler to "handler.pl.main": the file part names this program.
use strict;
use warnings;
use JSON::PP;
use IO::Handle;

my $json = JSON::PP->new->utf8->canonical;
open(my $out, '>&', \*STDOUT) or die "channel out: $!";   # replies: our own copy of fd 1
open(my $body, '>&=', 3) or die "body stream (fd 3): $!";   # the response body
open(STDOUT, '>&', \*STDERR) or die "stdout: $!";           # print now goes to the log
STDOUT->autoflush(1);
open(my $in, '<&', \*STDIN) or die "channel in: $!";       # invoke lines: our own copy of fd 0
open(STDIN, '<', '/dev/null') or die "stdin: $!";

syswrite($out, qq({"type":"ready"}\n));
while (my $line = <$in>) {
    my $inv = $json->decode($line);
    print "perl handler: request $inv->{id}\n";              # a log line
    my $ok = eval {
        my $response = { hello => 'from perl', event => $inv->{event} };
        syswrite($body, $json->encode($response));
        1;
    };
    my $reply = $ok
        ? { type => 'response', id => $inv->{id} }
        : { type => 'error', id => $inv->{id}, errorType => 'PerlError', errorMessage => "$@", stackTrace => [] };
    syswrite($out, $json->encode($reply) . "\n");
}
