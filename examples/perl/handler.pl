#!/usr/bin/env perl
# A handler that speaks polyboot's channel protocol (docs/protocol.md, version 2) itself, with no
# adapter. Make it executable and set the handler to "handler.pl.main": the file part names this
# program.
use strict;
use warnings;
use JSON::PP;
use IO::Handle;

my $json = JSON::PP->new->utf8->canonical;
# Private copies of the channel: Perl opens descriptors above 2 close-on-exec, so programs this
# handler runs get fds 0 (/dev/null), 1 and 2 (the log stream) only.
open(my $out, '>&', \*STDOUT) or die "channel out: $!";    # replies: our own copy of fd 1
open(my $in, '<&', \*STDIN) or die "channel in: $!";       # invoke lines: our own copy of fd 0
open(STDOUT, '>&', \*STDERR) or die "stdout: $!";           # print now goes to the log
STDOUT->autoflush(1);
open(STDIN, '<', '/dev/null') or die "stdin: $!";

syswrite($out, qq({"type":"ready","protocol":2}\n));
while (my $line = <$in>) {
    my $inv = $json->decode($line);
    print "perl handler: request $inv->{id}\n";              # a log line
    my $ok = eval {
        my $response = { hello => 'from perl', event => $inv->{event} };
        # The response body goes to this invocation's own FIFO, closed before the reply.
        open(my $body, '>', $inv->{body}) or die "body FIFO $inv->{body}: $!";
        print $body $json->encode($response);
        close($body) or die "body FIFO: $!";
        1;
    };
    my $reply = $ok
        ? { type => 'response', id => $inv->{id} }
        : { type => 'error', id => $inv->{id}, errorType => 'PerlError', errorMessage => "$@", stackTrace => [] };
    syswrite($out, $json->encode($reply) . "\n");
}
