// Package publishtest tests what a user needs to publish and use polyboot's layers:
//
//   - layer/publish, run as a user would: its --dry-run output for several option sets (the exact
//     commands), its errors, the S3 route for zips over 50 MB, that --dry-run never runs aws (a
//     fake aws on PATH records every call), and that a real run (against the same fake aws) runs
//     exactly the commands --dry-run prints;
//   - layer/template.yaml and layer/sam/template-arm64.yaml: parsed, every reference checked,
//     the arm64 template kept in step with the x86_64 one, and cfn-lint when it is installed;
//   - examples/: each handler served by the real bootstrap under AWS's Runtime Interface
//     Emulator, with the language's interpreter.
//
// The package has no code of its own; everything is in its tests.
package publishtest
