package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/polyboot/polyboot/internal/s3test"
)

// TestServe: the first line names the address; an unsigned request there is refused and logged.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--access-key-id", "AKID", "--secret-access-key", "SECRET", "--bucket", "b"}, pw)
		pw.Close()
	}()
	// The log is written while a request is answered: read it as it comes.
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	first := <-lines
	if !strings.HasPrefix(first, "listening on http://127.0.0.1:") {
		t.Fatalf("first line %q", first)
	}
	url := strings.TrimPrefix(first, "listening on ")
	resp, err := http.Get(url + "/b?list-type=2")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned request: status %d", resp.StatusCode)
	}
	line := <-lines
	var rec s3test.Request
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Operation != "ListObjectsV2" || rec.Verified || rec.Error != "AccessDenied" {
		t.Errorf("log line %s: %+v %v", line, rec, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRequiresCredentials(t *testing.T) {
	if err := run(context.Background(), []string{"--access-key-id", "AKID"}, io.Discard); err == nil {
		t.Fatal("no error without a secret key")
	}
}
