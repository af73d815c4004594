// Package lambdaimage builds Lambda container images of polyboot functions without a Docker
// daemon, with go-containerregistry: a base image, one image layer per polyboot layer zip (laid
// under /opt, where Lambda merges a function's layers), one for the function's code under
// /var/task, and the configuration AWS's base images carry (entrypoint, CMD = the handler, env,
// working directory). Every layer and the configuration are reproducible: the same inputs give
// the same digest.
package lambdaimage
