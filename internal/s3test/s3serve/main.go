// Command s3serve serves an internal/s3test S3 stand-in on loopback, for shell tests:
//
//	go run ./internal/s3test/s3serve -access-key-id AKID -secret-access-key SECRET \
//	    [-session-token TOKEN] [-region us-east-1] [-addr 127.0.0.1:0] [-bucket NAME]... \
//	    [-tls-cert CERT.pem -tls-key KEY.pem]
//
// Its first line of standard output is "listening on http://127.0.0.1:PORT" (https with -tls-cert);
// then one JSON line
// per request received (s3test.Request: operation, verified, status, error, ...). It serves until
// SIGTERM or SIGINT.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/polyboot/polyboot/internal/s3test"
	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "s3serve: %v\n", err)
		os.Exit(1)
	}
}

// run parses args, serves until ctx ends, and writes the address and the request log to out.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := pflag.NewFlagSet("s3serve", pflag.ContinueOnError)
	var cfg s3test.Config
	fs.StringVar(&cfg.Credentials.AccessKeyID, "access-key-id", "", "the access key requests must be signed with (required)")
	fs.StringVar(&cfg.Credentials.SecretAccessKey, "secret-access-key", "", "its secret key (required)")
	fs.StringVar(&cfg.Credentials.SessionToken, "session-token", "", "the session token requests must carry and sign")
	fs.StringVar(&cfg.Region, "region", "us-east-1", "the region requests must be signed for")
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	buckets := fs.StringArray("bucket", nil, "a bucket to create (repeatable)")
	cert := fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM)")
	key := fs.String("tls-key", "", "the certificate's private key (PEM)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.Credentials.AccessKeyID == "" || cfg.Credentials.SecretAccessKey == "" {
		return errors.New("-access-key-id and -secret-access-key are required")
	}
	srv := s3test.New(cfg)
	for _, b := range *buckets {
		srv.CreateBucket(b)
	}
	var mu sync.Mutex
	enc := json.NewEncoder(out)
	srv.OnRequest(func(r s3test.Request) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(r)
	})
	if (*cert == "") != (*key == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	mu.Lock()
	scheme := "http"
	if *cert != "" {
		scheme = "https"
	}
	_, err = fmt.Fprintf(out, "listening on %s://%s\n", scheme, l.Addr())
	mu.Unlock()
	if err != nil {
		return fmt.Errorf("writing the address: %w", err)
	}
	hs := &http.Server{Handler: srv}
	done := make(chan error, 1)
	go func() {
		if *cert != "" {
			done <- hs.ServeTLS(l, *cert, *key)
			return
		}
		done <- hs.Serve(l)
	}()
	select {
	case <-ctx.Done():
		if err := hs.Shutdown(context.Background()); err != nil {
			return fmt.Errorf("shutting down: %w", err)
		}
		return nil
	case err := <-done:
		return fmt.Errorf("serving: %w", err)
	}
}
