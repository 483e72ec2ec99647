package logbuf

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// out records each write it receives.
type out struct {
	mu     sync.Mutex
	writes []string
	wrote  chan struct{}
}

func newOut() *out { return &out{wrote: make(chan struct{}, 100)} }

func (o *out) Write(p []byte) (int, error) {
	o.mu.Lock()
	o.writes = append(o.writes, string(p))
	o.mu.Unlock()
	o.wrote <- struct{}{}
	return len(p), nil
}

func (o *out) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.writes...)
}

func TestAQuietServersLineIsWrittenAtOnce(t *testing.T) {
	o := newOut()
	w := New(o, time.Hour, 1<<10)
	w.Write([]byte("first\n"))
	if got := o.all(); len(got) != 1 || got[0] != "first\n" {
		t.Fatalf("writes %q: the first line of a quiet server must not wait", got)
	}
}

func TestLinesAreBatchedAndWrittenWithinTheInterval(t *testing.T) {
	o := newOut()
	w := New(o, 300*time.Millisecond, 1<<10)
	w.last = time.Now() // busy: lines wait
	w.Write([]byte("a\n"))
	w.Write([]byte("b\n"))
	if got := o.all(); len(got) != 0 {
		t.Fatalf("written before the interval: %q", got)
	}
	select {
	case <-o.wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("nothing written after the interval")
	}
	if got := o.all(); len(got) != 1 || got[0] != "a\nb\n" {
		t.Fatalf("writes %q, want one with both lines", got)
	}
}

func TestAFullBufferIsWrittenAtOnce(t *testing.T) {
	o := newOut()
	w := New(o, time.Hour, 8)
	w.last = time.Now() // busy
	w.Write([]byte("1234\n"))
	w.Write([]byte("5678\n"))
	if got := o.all(); len(got) != 1 || got[0] != "1234\n5678\n" {
		t.Fatalf("writes %q", got)
	}
	w.Write([]byte("tail\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("after close\n"))
	if got := o.all(); len(got) != 3 || got[1] != "tail\n" || got[2] != "after close\n" {
		t.Fatalf("writes %q: Close must flush, and later writes go straight through", got)
	}
}

func TestWarningsFlushEverythingBeforeThem(t *testing.T) {
	var buf bytes.Buffer
	w := New(&buf, time.Hour, 1<<16)
	w.last = time.Now() // busy
	log := slog.New(Handler(slog.NewJSONHandler(w, nil), w, slog.LevelWarn)).With("component", "test")
	log.Info("request one")
	if buf.Len() != 0 {
		t.Fatalf("an info line was written at once: %s", buf.String())
	}
	log.Warn("something is wrong")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "request one") || !strings.Contains(lines[1], "something is wrong") || !strings.Contains(lines[1], `"component":"test"`) {
		t.Fatalf("after a warning: %q", lines)
	}
}

func TestZeroIntervalWritesEachLine(t *testing.T) {
	o := newOut()
	w := New(o, 0, 1<<10)
	w.Write([]byte("a\n"))
	w.Write([]byte("b\n"))
	if got := o.all(); len(got) != 2 {
		t.Fatalf("writes %q, want each line on its own", got)
	}
}

// stalled is a destination whose writes wait until release is closed, as a pipe whose
// reader is busy.
type stalled struct {
	*out
	entered chan struct{}
	release chan struct{}
}

func (s *stalled) Write(p []byte) (int, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.out.Write(p)
}

// within runs f and fails the test if it has not returned within 10 s.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still waiting after 10 s", what)
	}
}

func TestASlowDestinationDoesNotStallLogging(t *testing.T) {
	s := &stalled{out: newOut(), entered: make(chan struct{}, 10), release: make(chan struct{})}
	w := New(s, time.Hour, 8)
	go w.Write([]byte("first\n")) // a quiet server's line: written at once, and stuck
	<-s.entered
	within(t, "logging while a write is stuck", func() {
		for _, l := range []string{"2\n", "3\n", "4444444\n", "5\n"} {
			w.Write([]byte(l))
		}
	})
	flushed := make(chan error)
	go func() { flushed <- w.Flush() }()
	close(s.release)
	within(t, "Flush", func() {
		if err := <-flushed; err != nil {
			t.Error(err)
		}
	})
	got := strings.Join(s.all(), "")
	if got != "first\n2\n3\n4444444\n5\n" {
		t.Fatalf("written %q: every line, in order", got)
	}
	if n := len(s.all()); n != 2 {
		t.Fatalf("%d writes (%q): the lines logged during the stuck write go out as one batch", n, s.all())
	}
}

func TestLoggingWaitsWhenTooMuchIsQueuedBehindAStuckWrite(t *testing.T) {
	s := &stalled{out: newOut(), entered: make(chan struct{}, 10), release: make(chan struct{})}
	w := New(s, time.Hour, 8)
	go w.Write([]byte("first\n"))
	<-s.entered
	line := []byte("1234567\n")
	within(t, "queueing up to the bound", func() {
		for range maxBatches {
			w.Write(line)
		}
	})
	blocked := make(chan struct{})
	go func() { w.Write([]byte("over\n")); close(blocked) }()
	select {
	case <-blocked:
		t.Fatal("a write beyond the bound returned while the destination was stuck")
	case <-time.After(50 * time.Millisecond):
	}
	close(s.release)
	within(t, "the write beyond the bound, once the destination moves", func() { <-blocked })
	within(t, "Close", func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	if got, want := strings.Join(s.all(), ""), "first\n"+strings.Repeat(string(line), maxBatches)+"over\n"; got != want {
		t.Fatalf("written %q, want %q", got, want)
	}
}

// failing fails the writes whose number (from 1) it holds.
type failing struct {
	n    int
	fail map[int]bool
}

func (f *failing) Write(p []byte) (int, error) {
	f.n++
	if f.fail[f.n] {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestAFailedWriteIsReportedOnceEvenWhenALaterOneSucceeds(t *testing.T) {
	f := &failing{fail: map[int]bool{1: true}}
	w := New(f, time.Hour, 1<<10)
	w.last = time.Now() // busy: lines wait for Flush
	w.Write([]byte("lost\n"))
	w.flushDue() // the timer's flush meets the failure
	w.Write([]byte("kept\n"))
	if err := w.Flush(); err == nil || err.Error() != "disk full" {
		t.Fatalf("Flush after a failed and a successful write: %v, want the failure", err)
	}
	if f.n != 2 {
		t.Fatalf("%d writes, want 2", f.n)
	}
	w.Write([]byte("more\n"))
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush reported the failure again: %v", err)
	}
	f.fail[4] = true
	w.Write([]byte("last\n"))
	if err := w.Close(); err == nil {
		t.Fatal("Close did not report its failed write")
	}
}
