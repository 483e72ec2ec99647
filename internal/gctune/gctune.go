// Package gctune gives the garbage collector a minimum heap target. Go collects each time
// the heap has grown by GOGC percent (100) over the live heap; a server whose live heap is
// small but which allocates quickly (every request's buffers, every store transaction's
// nodes) then collects many times a second, each time scanning every goroutine's stack.
// With a floor, the heap may grow to at least that size before a collection, and above it
// the default rule applies unchanged — Java's -Xms, for Go.
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

const (
	defaultPercent = 100
	maxPercent     = 2000
)

// Floor keeps the heap target at least floor bytes until stop is called, which restores
// the previous GOGC. It does nothing (and says so by returning false) when the operator
// set GOGC or GOMEMLIMIT: their choice wins.
func Floor(floor uint64) (stop func(), ok bool) {
	if floor == 0 || os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}, false
	}
	var stopped atomic.Bool
	prev := debug.SetGCPercent(defaultPercent)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var arm func()
	// A finalizer runs after the collection that found its object unreachable: once per
	// cycle, each run arms the next.
	arm = func() {
		s := new(sentinel)
		runtime.SetFinalizer(s, func(*sentinel) {
			if stopped.Load() {
				return
			}
			metrics.Read(sample)
			debug.SetGCPercent(Percent(sample[0].Value.Uint64(), floor))
			arm()
		})
	}
	arm()
	return func() {
		if stopped.CompareAndSwap(false, true) {
			debug.SetGCPercent(prev)
		}
	}, true
}

// sentinel is large enough not to be batched with other tiny allocations.
type sentinel struct{ _ [32]byte }

// Percent is the GOGC that puts the next collection at floor bytes for a live heap of live
// bytes: never below the default, capped so a near-empty heap does not disable collection.
func Percent(live, floor uint64) int {
	if live == 0 {
		return maxPercent
	}
	if live >= floor/2 {
		return defaultPercent
	}
	return min(int(floor*100/live)-100, maxPercent)
}
