module github.com/polyboot/polyboot/bench

go 1.26.8

require (
	github.com/aws/aws-lambda-go v1.55.1
	github.com/polyboot/polyboot v0.0.0
	go.uber.org/zap v1.28.0
)

require (
	github.com/creack/pty v1.1.24 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/polyboot/polyboot => ../
