package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// server counts the connections it accepts; /stream sends one line and then holds the answer
// open until the client goes away.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/stream" {
			io.WriteString(w, "data: first\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		io.WriteString(w, r.Method+" "+string(body))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func TestDirectTransportReusesConnectionsAnswersReadToTheEnd(t *testing.T) {
	srv, conns := countingServer(t)
	hc := httpClient(2)
	defer hc.CloseIdleConnections()
	for i := range 20 {
		resp, err := hc.Post(srv.URL+"/x", "text/plain", strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != "POST body" {
			t.Fatalf("request %d: answer %q", i, got)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 20 sequential requests, want 1", n)
	}
}

func TestDirectTransportClosesAStreamLeftEarly(t *testing.T) {
	srv, conns := countingServer(t)
	hc := httpClient(2)
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 12)
	if _, err := io.ReadFull(resp.Body, line); err != nil || string(line) != "data: first\n" {
		t.Fatalf("stream: %q %v", line, err)
	}
	resp.Body.Close() // before its end: the connection cannot be reused
	resp, err = hc.Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2: a stream closed early must not be reused", n)
	}
}

func TestDirectTransportCancelEndsABlockedRead(t *testing.T) {
	srv, _ := countingServer(t)
	hc := httpClient(2)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/stream", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a cancelled stream read ended without an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelling did not end the blocked read")
	}
	resp.Body.Close()
}

func TestDirectTransportTimeoutEndsAHungAnswer(t *testing.T) {
	srv, _ := countingServer(t)
	hc := &http.Client{Transport: newDirectTransport(2, 100*time.Millisecond)}
	resp, err := hc.Get(srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a hung answer ended with %v, want the deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the timeout did not end a hung answer")
	}
}

func TestDirectTransportRefusesOtherSchemes(t *testing.T) {
	_, err := httpClient(1).Get("https://127.0.0.1:1/")
	if err == nil || errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "only http://") {
		t.Fatalf("https: %v", err)
	}
}
