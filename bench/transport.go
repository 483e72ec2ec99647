package bench

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// directTransport is a keep-alive HTTP/1.1 client transport in which the calling goroutine
// writes the request and reads the answer itself. net/http's Transport runs a reader and a
// writer goroutine per connection and hands every request and answer across them; on a
// machine the load generator shares with the server it measures, those hand-offs cost as
// much as the HTTP itself. Requests go to the one server the bench drives, over plain HTTP.
//
// Each request, its answer included, must finish within the transport's timeout: a deadline
// on the connection, where http.Client's Timeout would start a timer and a goroutine per
// request.
type directTransport struct {
	dialer  net.Dialer
	timeout time.Duration
	mu      sync.Mutex
	idle    []*directConn
	max     int // idle connections kept
}

type directConn struct {
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
}

func newDirectTransport(maxIdle int, timeout time.Duration) *directTransport {
	return &directTransport{dialer: net.Dialer{Timeout: 10 * time.Second, KeepAlive: -1}, timeout: timeout, max: maxIdle}
}

func (t *directTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errors.New("bench transport: only http:// servers")
	}
	dc, err := t.conn(req.Context(), req.URL.Host)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	dc.conn.SetDeadline(time.Now().Add(t.timeout))
	// A cancelled request closes its connection, which ends a blocked read or write.
	stop := context.AfterFunc(req.Context(), func() { dc.conn.Close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		dc.conn.Close()
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}
	if err := req.Write(dc.bw); err != nil {
		return fail(err)
	}
	if err := dc.bw.Flush(); err != nil {
		return fail(err)
	}
	resp, err := http.ReadResponse(dc.br, req)
	if err != nil {
		return fail(err)
	}
	resp.Body = &directBody{ReadCloser: resp.Body, t: t, dc: dc, stop: stop, reuse: !resp.Close, eof: resp.ContentLength == 0}
	return resp, nil
}

// conn returns an idle connection to addr or dials one.
func (t *directTransport) conn(ctx context.Context, addr string) (*directConn, error) {
	t.mu.Lock()
	if n := len(t.idle); n > 0 {
		dc := t.idle[n-1]
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		return dc, nil
	}
	t.mu.Unlock()
	c, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &directConn{conn: c, br: bufio.NewReaderSize(c, 16<<10), bw: bufio.NewWriterSize(c, 8<<10)}, nil
}

// release keeps dc for the next request, or closes it if enough are idle.
func (t *directTransport) release(dc *directConn) {
	t.mu.Lock()
	if len(t.idle) < t.max {
		t.idle = append(t.idle, dc)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	dc.conn.Close()
}

// CloseIdleConnections closes the connections kept for reuse (http.Client calls it).
func (t *directTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, dc := range idle {
		dc.conn.Close()
	}
}

// directBody gives the connection back once the answer has been read to its end; an answer
// closed before its end (an event stream) closes the connection.
type directBody struct {
	io.ReadCloser
	t     *directTransport
	dc    *directConn
	stop  func() bool
	reuse bool
	eof   bool
	done  bool
}

func (b *directBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *directBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	if !b.eof {
		b.dc.conn.Close() // first: closing the body would otherwise read the rest of it
	}
	err := b.ReadCloser.Close()
	if b.stop() && b.eof && b.reuse && err == nil { // stop is false if the request was cancelled
		b.t.release(b.dc)
		return nil
	}
	b.dc.conn.Close()
	return err
}
