package bench

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAverageOfLimits(t *testing.T) {
	a := &Limit{Components: []Component{{Name: "x", PerTransaction: 2, OpsPerSecond: 1000}, {Name: "y", PerTransaction: 1, OpsPerSecond: 4000}}}
	b := &Limit{Components: []Component{{Name: "x", PerTransaction: 2, OpsPerSecond: 3000}, {Name: "y", PerTransaction: 1, OpsPerSecond: 4000}}}
	avg := Average(a, b)
	// x: 2 per tx at 2000/s = 1 ms; y: 1 per tx at 4000/s = 0.25 ms; 1.25 ms per transaction.
	if x := avg.Components[0]; x.OpsPerSecond != 2000 || x.MsPerTx != 1 || x.Name != "x" {
		t.Fatalf("component %+v", x)
	}
	if math.Abs(avg.TransactionsPerSecond-800) > 1e-9 || avg.Measurements != 2 {
		t.Fatalf("limit %v tx/s from %d measurements, want 800 from 2", avg.TransactionsPerSecond, avg.Measurements)
	}
	// Measured before, between two parts and after a run: each part is compared with the
	// measurements on either side of it, so the middle one weighs as much as both ends.
	c := &Limit{Components: []Component{{Name: "x", PerTransaction: 2, OpsPerSecond: 6000}, {Name: "y", PerTransaction: 1, OpsPerSecond: 1000}}}
	avg = Average(a, c, b)
	if x, y := avg.Components[0], avg.Components[1]; x.OpsPerSecond != 4000 || y.OpsPerSecond != 2500 || avg.Measurements != 3 {
		t.Fatalf("components %+v, %+v from %d measurements; want x at 4000/s, y at 2500/s from 3", x, y, avg.Measurements)
	}
}

// at is a limit of one component, one per transaction: ops transactions per second.
func at(ops float64) *Limit {
	l := &Limit{Components: []Component{{Name: "x", PerTransaction: 1, OpsPerSecond: ops, MsPerTx: 1000 / ops}}}
	l.total()
	return l
}

// TestLimitBoundByCapacity: CPU costs add up; a part bound by something else (the store's
// fsyncs) bounds the limit by its capacity, and only when that is lower.
func TestLimitBoundByCapacity(t *testing.T) {
	l := &Limit{Components: []Component{
		{Name: "cpu", PerTransaction: 1, OpsPerSecond: 1000, MsPerTx: 1},
		{Name: "writes", PerTransaction: 3, OpsPerSecond: 300_000, MsPerTx: 0.01, CapacityPerSecond: 1500},
	}}
	l.total()
	if l.TransactionsPerSecond != 500 {
		t.Fatalf("limit %v tx/s, want 500 (1 500 writes a second, 3 per transaction)", l.TransactionsPerSecond)
	}
	l.Components[1].CapacityPerSecond = 30_000
	l.total()
	if math.Abs(l.TransactionsPerSecond-1000/1.01) > 1e-9 {
		t.Fatalf("limit %v tx/s, want the CPU's 990", l.TransactionsPerSecond)
	}
	// Averaged like the rates: 1 500 and 4 500 a second, weighing the same.
	a := &Limit{Components: []Component{{Name: "writes", PerTransaction: 3, OpsPerSecond: 300_000, CapacityPerSecond: 1500}}}
	b := &Limit{Components: []Component{{Name: "writes", PerTransaction: 3, OpsPerSecond: 300_000, CapacityPerSecond: 4500}}}
	if avg := Average(a, b); avg.Components[0].CapacityPerSecond != 3000 || avg.TransactionsPerSecond != 1000 {
		t.Fatalf("averaged %+v at %v tx/s, want a capacity of 3 000 and 1 000 tx/s", avg.Components[0], avg.TransactionsPerSecond)
	}
}

// TestAverageKeepsEachMeasurement: the average says what each measurement found, in order,
// so that a report can show how far the machine drifted.
func TestAverageKeepsEachMeasurement(t *testing.T) {
	avg := Average(at(800), at(1200), at(1000))
	if got := avg.MeasuredTransactionsPerSecond; !slices.Equal(got, []float64{800, 1200, 1000}) {
		t.Fatalf("measured %v, want 800, 1200, 1000", got)
	}
}

// TestPartRatios: each part is compared with the limits measured on either side of it,
// not with the run's average.
func TestPartRatios(t *testing.T) {
	got := PartRatios([]float64{800, 600}, []*Limit{at(1000), at(1000), at(500)})
	if len(got) != 2 || math.Abs(got[0]-0.8) > 1e-9 || math.Abs(got[1]-0.8) > 1e-9 {
		t.Fatalf("ratios %v, want 0.8 and 0.8 (600 against the 750 on either side of the second part)", got)
	}
	for _, c := range []struct {
		rates  []float64
		limits []*Limit
	}{
		{[]float64{800}, []*Limit{at(1000), at(1000)}},      // one part: its ratio is the run's
		{[]float64{800, 600}, []*Limit{at(1000), at(1000)}}, // not measured between the parts
	} {
		if got := PartRatios(c.rates, c.limits); got != nil {
			t.Fatalf("PartRatios(%v, %d limits) = %v, want nil", c.rates, len(c.limits), got)
		}
	}
}

func TestMeasureEvents(t *testing.T) {
	ops, err := measureEvents(50*time.Millisecond, 4)
	if err != nil {
		t.Fatal(err)
	}
	if ops <= 0 {
		t.Fatalf("%v events/s", ops)
	}
}

func TestMeasureLimitNeedsAScratchDirectory(t *testing.T) {
	if _, err := MeasureLimit(context.Background(), LimitConfig{}); err == nil {
		t.Fatal("a limit measured without a scratch directory would write its store and keys into the working directory")
	}
}

// TestMeterMeasuresAgain: a meter set up once measures as often as asked, on the same
// keys and store, every part each time.
func TestMeterMeasuresAgain(t *testing.T) {
	m, err := NewMeter(context.Background(), LimitConfig{Dir: t.TempDir(), Each: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var parts []int
	for range 2 {
		lim, err := m.Measure(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range lim.Components {
			if c.OpsPerSecond <= 0 {
				t.Fatalf("component %+v", c)
			}
		}
		// The writes cost their CPU, which cannot allow fewer a second than the store did
		// while it used at most every core; what it did is their capacity.
		w := lim.Components[4]
		if !strings.HasPrefix(w.Name, "server: durable store write") || w.CapacityPerSecond <= 0 || w.OpsPerSecond < w.CapacityPerSecond {
			t.Fatalf("write component %+v: want a capacity, and a CPU-bound rate at least as high", w)
		}
		parts = append(parts, len(lim.Components))
	}
	if parts[0] != 7 || parts[1] != 7 {
		t.Fatalf("%v components in the two measurements, want 7 each", parts)
	}
}
