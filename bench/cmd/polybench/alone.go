package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/polyboot/polyboot/protocol"
	"github.com/polyboot/polyboot/registry"
)

// aloneLines is how many invoke lines the worker-alone measurement feeds a worker.
const aloneLines = 2000

// workerAlone measures a polyboot worker without the bootstrap or the emulator: the worker the
// bootstrap would start (same argv, environment and descriptors) is fed aloneLines invoke lines
// of event through a pipe, its replies and bodies are read and counted, and the time of a run
// with no lines (start-up, ready, exit) is subtracted. The result is the adapter's own time per
// invocation: what remains of a warm invocation's wall time belongs to the bootstrap, the
// emulator and the client. Each kind of run is timed three times and its fastest kept.
func workerAlone(c *config, r *row, event []byte) (time.Duration, error) {
	reg, err := registry.Load(filepath.Join(c.layerDir, "adapters"))
	if err != nil {
		return 0, fmt.Errorf("loading the adapters: %w", err)
	}
	h, err := reg.Resolve(r.handler, r.taskDir)
	if err != nil {
		return 0, fmt.Errorf("resolving %s: %w", r.handler, err)
	}
	env := rowEnv(c, r)
	getenv := func(k string) string {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
	argv, err := reg.Argv(h, registry.Env{Getenv: getenv, BinDirs: []string{filepath.Join(c.layerDir, "bin")}})
	if err != nil {
		return 0, fmt.Errorf("argv for %s: %w", r.handler, err)
	}
	env = append(env, "POLYBOOT_PROTOCOL=2", "HOME=/tmp")
	// One body FIFO serves every line here (the bootstrap makes one per invocation): the adapter
	// opens and closes it for each, and the reader holds it open in between.
	fifoDir, err := os.MkdirTemp("", "polybench-")
	if err != nil {
		return 0, fmt.Errorf("body FIFO folder: %w", err)
	}
	defer os.RemoveAll(fifoDir)
	fifo := filepath.Join(fifoDir, "body")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		return 0, fmt.Errorf("body FIFO: %w", err)
	}

	var lines []byte
	for i := 0; i < aloneLines; i++ {
		inv := &protocol.Invocation{
			RequestID: "alone-" + strconv.Itoa(i), DeadlineMs: time.Now().Add(time.Hour).UnixMilli(),
			FunctionARN: "arn:aws:lambda:us-east-1:012345678912:function:test_function",
		}
		lines = protocol.AppendInvokeLine(lines, inv, fifo, event)
	}
	var empty, full time.Duration
	for try := 0; try < 3; try++ {
		e, err := runWorker(argv, r.taskDir, env, nil, 0, fifo)
		if err != nil {
			return 0, err
		}
		f, err := runWorker(argv, r.taskDir, env, lines, aloneLines*len(event), fifo)
		if err != nil {
			return 0, err
		}
		if try == 0 || e < empty {
			empty = e
		}
		if try == 0 || f < full {
			full = f
		}
	}
	return max(0, full-empty) / aloneLines, nil
}

// runWorker runs a worker with input on its channel in and returns how long it took to exit,
// checking that it answered every line with a response and wrote bodyLen body bytes to fifo.
func runWorker(argv []string, dir string, env []string, input []byte, bodyLen int, fifo string) (time.Duration, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("pipe: %w", err)
	}
	bodyR, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return 0, fmt.Errorf("body FIFO: %w", err)
	}
	bodyW, err := os.OpenFile(fifo, os.O_WRONLY, 0) // held until the worker exits: no EOF before
	if err != nil {
		return 0, fmt.Errorf("body FIFO: %w", err)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("opening %s: %w", os.DevNull, err)
	}
	defer devnull.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		bodyW.Close()
		inW.Close()
		outR.Close()
		bodyR.Close()
		return 0, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }()
	bodyN := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(io.Discard, bodyR)
		bodyR.Close()
		bodyN <- n
	}()
	replies := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(outR)
		outR.Close()
		replies <- b
	}()
	go func() {
		_, _ = inW.Write(input)
		inW.Close() // EOF: the worker exits
	}()
	werr := cmd.Wait()
	elapsed := time.Since(start)
	bodyW.Close() // EOF once the worker's own ends are closed
	out, n := <-replies, <-bodyN
	if werr != nil {
		return 0, fmt.Errorf("%s exited: %w", argv[0], werr)
	}
	lines := 0
	if input != nil {
		lines = aloneLines
	}
	if got := bytes.Count(out, []byte(`"response"`)); got != lines || n != int64(bodyLen) {
		return 0, fmt.Errorf("%s answered %d of %d lines with a response and wrote %d of %d body bytes", argv[0], got, lines, n, bodyLen)
	}
	return elapsed, nil
}
