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
// concurrent use. The write to the destination happens outside the lock that logging
// takes: while one batch is being written (a pipe whose reader is slow, a full disk
// queue), lines keep going into the next batch instead of stalling every request that
// logs. They wait only when maxBatches batches are queued behind that write, so memory
// stays bounded. One goroutine writes at a time, so batches keep their order.
type Writer struct {
	mu       sync.Mutex
	done     sync.Cond // signalled when a write to out ends
	out      io.Writer
	buf      []byte
	spare    []byte // the buffer last written, reused for the next batch
	size     int
	interval time.Duration
	timer    *time.Timer // pending flush; nil when nothing waits for one
	last     time.Time   // of the last write to out
	closed   bool
	writing  bool  // a goroutine is writing to out, outside mu
	urgent   bool  // what is buffered must be written as soon as that write ends
	queued   int64 // bytes accepted so far
	written  int64 // bytes passed to out so far
	err      error // the first failed write to out since Flush or Close last reported one
}

// maxBatches is how many buffers' worth of lines may wait behind a write in progress
// before logging waits for it.
const maxBatches = 4

// New returns a Writer that writes to out at most interval after each write, or as soon as
// size bytes are waiting. Close flushes what is left.
func New(out io.Writer, interval time.Duration, size int) *Writer {
	w := &Writer{out: out, size: size, interval: interval, buf: make([]byte, 0, size)}
	w.done.L = &w.mu
	return w
}

// Write buffers p; it never fails (a failing destination is reported by Flush).
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.writing && len(w.buf) >= maxBatches*w.size {
		w.done.Wait()
	}
	now := time.Now()
	atOnce := w.closed || w.interval <= 0 || (w.timer == nil && !w.writing && now.Sub(w.last) >= w.interval)
	w.buf = append(w.buf, p...)
	w.queued += int64(len(p))
	switch {
	case w.writing:
		// The goroutine writing now takes this line on if it is due; otherwise the
		// timer below does.
		w.urgent = w.urgent || atOnce || len(w.buf) >= w.size
		if w.urgent {
			return len(p), nil
		}
	case atOnce || len(w.buf) >= w.size:
		w.writeLocked()
		return len(p), nil
	}
	if w.timer == nil {
		w.timer = time.AfterFunc(w.interval, w.flushDue)
	}
	return len(p), nil
}

// Flush writes everything buffered before it was called. It returns the first write to
// the destination that failed since Flush or Close last returned an error, even when later
// writes succeeded, and reports each failure once.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
	return w.takeErr()
}

// flushDue is the timer's flush: a failure it meets waits for Flush or Close to report it.
func (w *Writer) flushDue() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
}

func (w *Writer) flushLocked() {
	target := w.queued
	for w.writing && w.written < target {
		w.urgent = true
		w.done.Wait()
	}
	if w.written < target {
		w.writeLocked()
	}
}

func (w *Writer) takeErr() error {
	err := w.err
	w.err = nil
	return err
}

// writeLocked writes the buffer to out with mu released, and goes on with what was logged
// meanwhile as long as that is due. mu is held on entry and on return, and no other
// goroutine is writing.
func (w *Writer) writeLocked() {
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	w.writing = true
	for len(w.buf) > 0 {
		batch := w.buf
		w.buf, w.spare, w.urgent = w.spare[:0], nil, false
		w.mu.Unlock()
		_, err := w.out.Write(batch)
		w.mu.Lock()
		w.spare, w.last = batch[:0], time.Now()
		if w.err == nil {
			w.err = err
		}
		w.written += int64(len(batch))
		w.done.Broadcast()
		if !w.urgent && !w.closed && len(w.buf) < w.size {
			break
		}
	}
	w.writing = false
	w.done.Broadcast()
	if len(w.buf) > 0 && w.timer == nil {
		w.timer = time.AfterFunc(w.interval, w.flushDue)
	}
}

// Close flushes and makes later writes go straight through.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	w.flushLocked()
	return w.takeErr()
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
