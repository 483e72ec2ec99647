//go:build linux

package bench

import (
	"os"
	"strconv"
	"testing"
)

// threadPolicies returns the scheduling policy of each of this process's threads (field 41
// of /proc/self/task/TID/stat).
func threadPolicies(t *testing.T) map[int]int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	for _, e := range entries {
		f, err := statFields("/proc/self/task/" + e.Name() + "/stat")
		if err != nil || len(f) < 39 {
			continue // the thread ended
		}
		tid, _ := strconv.Atoi(e.Name())
		out[tid], _ = strconv.Atoi(f[38]) // field 41; f[0] is field 3
	}
	return out
}

// skipUnlessNormal skips a test when the test process itself was started under another
// scheduling policy than SCHED_OTHER.
func skipUnlessNormal(t *testing.T) {
	for _, p := range threadPolicies(t) {
		if p != schedOther {
			t.Skipf("the test process was started under scheduling policy %d (chrt)", p)
		}
	}
}

func TestBatchSchedulingCoversEveryThread(t *testing.T) {
	skipUnlessNormal(t)
	if err := setBatchScheduling(true); err != nil {
		t.Fatal(err)
	}
	defer setBatchScheduling(false)
	for tid, p := range threadPolicies(t) {
		if p != schedBatch {
			t.Fatalf("thread %d under policy %d after setBatchScheduling(true)", tid, p)
		}
	}
	if err := setBatchScheduling(false); err != nil {
		t.Fatal(err)
	}
	for tid, p := range threadPolicies(t) {
		if p != schedOther {
			t.Fatalf("thread %d under policy %d after setBatchScheduling(false)", tid, p)
		}
	}
}

// TestBatchSchedulingLeavesAChosenPolicy: a process whose main thread an operator put under
// another policy is not switched.
func TestBatchSchedulingLeavesAChosenPolicy(t *testing.T) {
	skipUnlessNormal(t)
	pid := os.Getpid()
	if err := setThreadPolicy(pid, schedBatch); err != nil {
		t.Fatal(err)
	}
	defer setThreadPolicy(pid, schedOther)
	if err := setBatchScheduling(true); err == nil {
		t.Fatal("setBatchScheduling(true) switched a process whose main thread was under SCHED_BATCH already")
	}
	for tid, p := range threadPolicies(t) {
		if tid != pid && p != schedOther {
			t.Fatalf("thread %d under policy %d: changed although the choice was left alone", tid, p)
		}
	}
}
