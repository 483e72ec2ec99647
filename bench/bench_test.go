package bench

import (
	"testing"
	"time"
)

func TestUsageFigures(t *testing.T) {
	before := usage{serverCPU: 10, selfCPU: 4, busy: 100, total: 200}
	after := usage{serverCPU: 12, selfCPU: 5, busy: 250, total: 400}
	var r Report
	r.setUsage(1000, before, after, true)
	if r.CPUSecondsPerTransaction != 0.002 || r.LoadCPUSecondsPerTransaction != 0.001 || r.MachineBusy != 0.75 {
		t.Fatalf("figures %+v", r)
	}
	var empty Report // nothing completed, no server process, no clock tick: all zero, never NaN
	empty.setUsage(0, before, before, true)
	if empty.CPUSecondsPerTransaction != 0 || empty.LoadCPUSecondsPerTransaction != 0 || empty.MachineBusy != 0 {
		t.Fatalf("empty run %+v", empty)
	}
	var remote Report
	remote.setUsage(1000, before, after, false)
	if remote.CPUSecondsPerTransaction != 0 || remote.LoadCPUSecondsPerTransaction == 0 {
		t.Fatalf("without a server process %+v", remote)
	}
}

// TestGatePauseIsBounded: a pause waits for the transactions under way; one that does not
// end in time is aborted, and the pause then takes effect.
func TestGatePauseIsBounded(t *testing.T) {
	g := newGate()
	g.tx.RLock() // a transaction under way, ending soon
	go func() { time.Sleep(20 * time.Millisecond); g.tx.RUnlock() }()
	if !g.pauseWithin(time.Minute, func() { t.Error("aborted a transaction that ended by itself") }) {
		t.Fatal("the pause did not wait for the transaction under way")
	}
	g.resume()

	g.tx.RLock() // a transaction that only ends when aborted
	aborted := false
	if g.pauseWithin(20*time.Millisecond, func() { aborted = true; g.tx.RUnlock() }) || !aborted {
		t.Fatalf("a stuck transaction: reported as ended in time, or never aborted (aborted: %v)", aborted)
	}
	select {
	case <-g.resumed:
		t.Fatal("after the abort the run is not paused")
	default:
	}
	g.resume()
}
