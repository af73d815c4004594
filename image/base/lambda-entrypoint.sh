#!/bin/sh
# /lambda-entrypoint.sh of polyboot's offline base image. It does what the entrypoint of AWS's
# Lambda base images does: the handler comes as the one argument (the image's CMD) and becomes
# _HANDLER; outside Lambda (AWS_LAMBDA_RUNTIME_API unset) AWS's Runtime Interface Emulator serves
# the invoke API on port 8080 and starts the runtime; on Lambda the runtime is exec'd directly.
# The runtime is /var/runtime/bootstrap, as in AWS's images, or else /opt/bootstrap (the
# polyboot runtime layer's place when the image has no link to it).
if [ $# -ne 1 ]; then
	echo "entrypoint requires the handler name to be the first argument" 1>&2
	exit 142
fi
export _HANDLER="$1"

RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ ! -x "$RUNTIME_ENTRYPOINT" ]; then
	RUNTIME_ENTRYPOINT=/opt/bootstrap
fi
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
	exec /usr/local/bin/aws-lambda-rie "$RUNTIME_ENTRYPOINT"
else
	exec "$RUNTIME_ENTRYPOINT"
fi
