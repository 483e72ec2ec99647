package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{10 << 20, 64 << 20, 540},  // the next collection at 64 MiB
		{32 << 20, 64 << 20, 100},  // at or above half the floor: the default rule
		{100 << 20, 64 << 20, 100}, // a big heap: the default rule
		{1 << 10, 64 << 20, 2000},  // almost empty: capped
		{0, 64 << 20, 2000},
	} {
		if got := Percent(c.live, c.floor); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
		}
	}
}

func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func TestFloorRaisesGOGCAfterACollectionAndStopRestoresIt(t *testing.T) {
	t.Setenv("GOGC", "") // as if unset
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	stop, ok := Floor(1 << 30)
	if !ok {
		t.Fatal("Floor did nothing with GOGC unset")
	}
	deadline := time.Now().Add(10 * time.Second)
	for gogc() <= 100 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond) // finalizers run on their own goroutine
	}
	if got := gogc(); got <= 100 {
		t.Fatalf("GOGC %d after collections with a 1 GiB floor and a small heap", got)
	}
	stop()
	runtime.GC()
	runtime.GC()
	if got := gogc(); got != 100 {
		t.Fatalf("GOGC %d after stop, want the previous 100", got)
	}
}

func TestOperatorSettingsWin(t *testing.T) {
	t.Setenv("GOGC", "50")
	if _, ok := Floor(1 << 30); ok {
		t.Fatal("Floor must leave an operator's GOGC alone")
	}
}
