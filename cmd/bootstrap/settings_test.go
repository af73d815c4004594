package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestInitTimeoutSetting: POLYBOOT_INIT_TIMEOUT_MS sets the init timeout, validated as
// POLYBOOT_TIMEOUT_MARGIN_MS is (and more than 0); without it, 10 s outside Lambda and 15 min
// under Lambda (AWS_LAMBDA_INITIALIZATION_TYPE set), which enforces its own limits.
func TestInitTimeoutSetting(t *testing.T) {
	tests := []struct {
		env  []string
		args []string
		want time.Duration
	}{
		{nil, nil, 10 * time.Second},
		{[]string{"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand"}, nil, 15 * time.Minute},
		{[]string{"AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency"}, nil, 15 * time.Minute},
		{[]string{"AWS_LAMBDA_INITIALIZATION_TYPE=snap-start"}, nil, 15 * time.Minute},
		{[]string{"POLYBOOT_INIT_TIMEOUT_MS=60000"}, nil, time.Minute},
		{[]string{"POLYBOOT_INIT_TIMEOUT_MS=250", "AWS_LAMBDA_INITIALIZATION_TYPE=on-demand"}, nil, 250 * time.Millisecond},
		{[]string{"POLYBOOT_INIT_TIMEOUT_MS=250"}, []string{"--init-timeout", "2s"}, 2 * time.Second},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		o, err := parseFlags(tt.args, newEnv(tt.env), &stderr)
		if err != nil {
			t.Fatalf("%q %q: %v", tt.env, tt.args, err)
		}
		if o.initWait != tt.want {
			t.Errorf("%q %q: init timeout %v, want %v", tt.env, tt.args, o.initWait, tt.want)
		}
	}
	for _, bad := range []string{"soon", "12abc", "-5", "0", "1.5"} {
		var stderr bytes.Buffer
		_, err := parseFlags(nil, newEnv([]string{"POLYBOOT_INIT_TIMEOUT_MS=" + bad}), &stderr)
		if err == nil || !strings.Contains(err.Error(), "POLYBOOT_INIT_TIMEOUT_MS") {
			t.Errorf("POLYBOOT_INIT_TIMEOUT_MS=%s: %v, want it refused", bad, err)
		}
	}
}

// TestLimitProcs checks that the bootstrap runs no more Ps than invocations at once, and leaves a
// GOMAXPROCS the environment sets.
func TestLimitProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	tests := []struct {
		name  string
		env   env
		n     int
		start int
		want  int
	}{
		{"one invocation at once", env{}, 1, 4, 1},
		{"fewer invocations than CPUs", env{}, 2, 4, 2},
		{"more invocations than CPUs", env{}, 8, 4, 4},
		{"GOMAXPROCS set", env{"GOMAXPROCS": "4"}, 1, 4, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runtime.GOMAXPROCS(tt.start)
			limitProcs(tt.env, tt.n)
			if got := runtime.GOMAXPROCS(0); got != tt.want {
				t.Errorf("GOMAXPROCS %d, want %d", got, tt.want)
			}
		})
	}
}
