// Package imagetest proves polyboot's container images without Docker:
//
//   - the image `make image` builds on the offline base, with the Tcl and Python 2.7 layers,
//     unpacked by the OCI image spec (lambdaimage.Unpack: mutate.Extract, whiteouts applied)
//     and started as a container runtime would start it: its entrypoint and CMD from the image's
//     configuration, as PID 1 of private mount, PID and network namespaces, chrooted into the
//     unpacked root, with the configuration's environment and working directory; then a bash,
//     a Tcl and a Python 2.7 handler invoked over HTTP on port 8080 inside, through AWS's
//     emulator (the network namespace has only its loopback: nothing leaves it);
//   - the Dockerfile recipe of examples/container: it parses, and every COPY source exists.
//
// The package has no code of its own; everything is in its tests.
package imagetest
