package cli

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestReadPeerURL: the bench's HTTP peer gives its address on its first line; each way it
// can fail to is told apart, so that the error says what happened.
func TestReadPeerURL(t *testing.T) {
	ctx := context.Background()
	if url, err := readPeerURL(ctx, strings.NewReader("http://127.0.0.1:4321\n"), time.Minute); err != nil || url != "http://127.0.0.1:4321" {
		t.Fatalf("address %q, %v", url, err)
	}
	for _, c := range []struct {
		name, out, want string
	}{
		{"ended", "", "ended before it printed its address"},
		{"something else", "listen tcp: address in use\n", `printed "listen tcp: address in use" instead of its address`},
	} {
		if _, err := readPeerURL(ctx, strings.NewReader(c.out), time.Minute); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one that says %q", c.name, err, c.want)
		}
	}

	silent, w := io.Pipe() // a peer that prints nothing and does not end
	defer w.Close()
	if _, err := readPeerURL(ctx, silent, 20*time.Millisecond); err == nil || !strings.Contains(err.Error(), "did not print its address within 20ms") {
		t.Errorf("a silent peer: error %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := readPeerURL(cancelled, silent, time.Minute); err != context.Canceled {
		t.Errorf("an interrupted bench: error %v, want %v", err, context.Canceled)
	}
}
