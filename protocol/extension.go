package protocol

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
)

// Extensions API names.
const (
	HeaderExtensionName       = "Lambda-Extension-Name"
	HeaderExtensionIdentifier = "Lambda-Extension-Identifier"

	extensionAPIVersion = "/2020-01-01/extension"
)

// RegisterExtension registers an internal extension that subscribes to no events. Lambda sends
// SIGTERM (and leaves about 500 ms before SIGKILL) to a runtime only when an extension is
// registered; this is how AWS's own runtimes give handlers a graceful shutdown. It returns the
// extension's identifier, which ParkExtension needs.
func (c *Client) RegisterExtension(ctx context.Context, name string) (string, error) {
	url := c.extensionBase() + "/register"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(`{"events":[]}`)))
	if err != nil {
		return "", fmt.Errorf("extension register: %w", err)
	}
	req.Header.Set(HeaderExtensionName, name)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("extension register: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", statusError("extension register", resp)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	id := resp.Header.Get(HeaderExtensionIdentifier)
	if id == "" {
		return "", fmt.Errorf("extension register: no %s in the answer", HeaderExtensionIdentifier)
	}
	return id, nil
}

// ParkExtension tells the Extensions API the extension finished its init by waiting for its next
// event. With no events subscribed, none ever comes: it blocks until ctx ends or the API fails.
func (c *Client) ParkExtension(ctx context.Context, id string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.extensionBase()+"/event/next", nil)
	if err != nil {
		return fmt.Errorf("extension next: %w", err)
	}
	req.Header.Set(HeaderExtensionIdentifier, id)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("extension next: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return statusError("extension next", resp)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// extensionBase is the Extensions API's root, on the Runtime API's host.
func (c *Client) extensionBase() string {
	return c.base[:len(c.base)-len(apiVersion)] + extensionAPIVersion
}
