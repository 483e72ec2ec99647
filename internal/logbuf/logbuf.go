// Package logbuf batches log lines into fewer writes: a busy server logs a line per request,
// and a write system call per line costs more than the line. Lines are written at most an
// interval after they were logged, at once when the buffer fills, at once from a warning
// up, and at once when nothing was written for an interval (a quiet server's lines are not
// delayed) — the access-log buffering web servers use (nginx's buffer= and flush=).
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Writer buffers what is written to it and passes it on in batches. It is safe for
// concurrent use.
type Writer struct {
	mu       sync.Mutex
	out      io.Writer
	buf      []byte
	size     int
	interval time.Duration
	timer    *time.Timer // pending flush; nil when the buffer is empty
	last     time.Time   // of the last write to out
	closed   bool
}

// New returns a Writer that writes to out at most interval after each write, or as soon as
// size bytes are waiting. Close flushes what is left.
func New(out io.Writer, interval time.Duration, size int) *Writer {
	return &Writer{out: out, size: size, interval: interval, buf: make([]byte, 0, size)}
}

// Write buffers p; it never fails (a failing destination is reported by Flush).
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if w.closed || w.interval <= 0 || (w.timer == nil && now.Sub(w.last) >= w.interval) {
		w.last = now
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= w.size {
		return len(p), w.flushLocked()
	}
	if w.timer == nil {
		w.timer = time.AfterFunc(w.interval, func() { _ = w.Flush() })
	}
	return len(p), nil
}

// Flush writes everything buffered.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.out.Write(w.buf)
	w.buf, w.last = w.buf[:0], time.Now()
	return err
}

// Close flushes and makes later writes go straight through.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return w.flushLocked()
}

// Handler wraps h, whose output goes to w, so that records from level up are written out
// at once together with everything logged before them.
func Handler(h slog.Handler, w *Writer, level slog.Level) slog.Handler {
	return flushing{h, w, level}
}

type flushing struct {
	slog.Handler
	w     *Writer
	level slog.Level
}

func (f flushing) Handle(ctx context.Context, r slog.Record) error {
	err := f.Handler.Handle(ctx, r)
	if r.Level >= f.level {
		if ferr := f.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (f flushing) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushing{f.Handler.WithAttrs(attrs), f.w, f.level}
}

func (f flushing) WithGroup(name string) slog.Handler {
	return flushing{f.Handler.WithGroup(name), f.w, f.level}
}
