package bench

import (
	"context"
	"testing"
	"time"
)

func TestUsageFigures(t *testing.T) {
	before := usage{serverCPU: 10, selfCPU: 4, busy: 100, total: 200}
	after := usage{serverCPU: 12, selfCPU: 5, busy: 250, total: 400}
	var r Report
	r.setUsage(1000, usage{}.plus(before, after), true)
	if r.CPUSecondsPerTransaction != 0.002 || r.LoadCPUSecondsPerTransaction != 0.001 || r.MachineBusy != 0.75 {
		t.Fatalf("figures %+v", r)
	}
	// Two spans with a pause between them: what the pause used is not charged.
	pauseStart, pauseEnd := usage{serverCPU: 11, selfCPU: 4.5, busy: 150, total: 250}, usage{serverCPU: 20, selfCPU: 9, busy: 300, total: 350}
	late := usage{serverCPU: 21, selfCPU: 9.5, busy: 400, total: 500}
	two := usage{}.plus(before, pauseStart).plus(pauseEnd, late)
	if one := (usage{}).plus(before, after); two != one {
		t.Fatalf("two spans used %+v, want %+v", two, one)
	}
	var empty Report // nothing completed, no server process, no clock tick: all zero, never NaN
	empty.setUsage(0, usage{}.plus(before, before), true)
	if empty.CPUSecondsPerTransaction != 0 || empty.LoadCPUSecondsPerTransaction != 0 || empty.MachineBusy != 0 {
		t.Fatalf("empty run %+v", empty)
	}
	var remote Report
	remote.setUsage(1000, usage{}.plus(before, after), false)
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

// TestPartWarmUpWaitsForTheWorkers: a part's warm-up lasts a tenth of it, or until as many
// transactions have completed as there are workers, but no longer than half the part.
func TestPartWarmUpWaitsForTheWorkers(t *testing.T) {
	const part = 400 * time.Millisecond // a tenth: 40 ms
	for _, c := range []struct {
		name     string
		every    time.Duration // one completion per
		min, max time.Duration
	}{
		{"ten completions after 100 ms", 10 * time.Millisecond, 95 * time.Millisecond, 150 * time.Millisecond},
		{"no completions: half the part", time.Hour, part / 2, part/2 + 50*time.Millisecond},
	} {
		start := time.Now()
		completedNow := func() int64 { return int64(time.Since(start) / c.every) }
		markNow := func() runMark { return runMark{at: time.Now(), completed: completedNow()} }
		counted, err := countParts(context.Background(), part, 1, 10, markNow, completedNow, nil)
		if err != nil {
			t.Fatal(err)
		}
		if w := time.Duration(counted.warmUp * float64(time.Second)); w < c.min || w > c.max {
			t.Errorf("%s: warm-up %v, want %v – %v", c.name, w, c.min, c.max)
		}
		if got := time.Duration((counted.seconds + counted.warmUp) * float64(time.Second)); got < part-5*time.Millisecond || got > part+50*time.Millisecond {
			t.Errorf("%s: the part lasted %v, want %v", c.name, got, part)
		}
	}
}

// TestRestartLatenciesKeepsErrors: the end of a warm-up forgets its latencies, not its
// errors.
func TestRestartLatenciesKeepsErrors(t *testing.T) {
	rec := &recorder{stages: map[string][]time.Duration{}, errors: map[string]int{}, reach: map[string]time.Time{}}
	rec.add("endToEnd", time.Second)
	rec.reached("ses_1", time.Now())
	rec.fail(errNotSigned)
	rec.restartLatencies()
	rec.add("create", time.Millisecond)
	if len(rec.stages) != 1 || len(rec.stages["create"]) != 1 || rec.errors["NOT_SIGNED"] != 1 || len(rec.reach) != 1 {
		t.Fatalf("after the warm-up: stages %v, errors %v, %d sessions under way", rec.stages, rec.errors, len(rec.reach))
	}
}
