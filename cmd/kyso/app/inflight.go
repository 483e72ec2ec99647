package app

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"
)

// inFlight counts the requests whose handlers are running. http.Server.Shutdown waits for
// connections to go idle, not for handlers: an HTTP/2 stream its client reset leaves the
// connection idle while the stream's handler may still run — a long-poll woken by the
// drain still reads the store to answer — and the store must not close under it.
type inFlight struct{ n atomic.Int64 }

func (f *inFlight) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.n.Add(1)
		defer f.n.Add(-1)
		h.ServeHTTP(w, r)
	})
}

// wait returns true once no handler runs, or false when ctx ends first.
func (f *inFlight) wait(ctx context.Context) bool {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for f.n.Load() > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return true
}
