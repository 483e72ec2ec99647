package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestInFlightWaitsForHandlers: wait does not return while a handler runs, whatever its
// connection's state, and returns once it has finished.
func TestInFlightWaitsForHandlers(t *testing.T) {
	var f inFlight
	release, started := make(chan struct{}), make(chan struct{})
	h := f.wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		close(started)
		<-release
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if f.wait(ctx) {
		t.Fatal("wait returned while a handler was running")
	}
	close(release)
	<-done
	if !f.wait(context.Background()) {
		t.Fatal("wait did not return after the handler finished")
	}
}
