//go:build linux

package bench

import (
	"bytes"
	"os"
	"strconv"
	"strings"
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
		raw, err := os.ReadFile("/proc/self/task/" + e.Name() + "/stat")
		if err != nil {
			continue // the thread ended
		}
		f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
		tid, _ := strconv.Atoi(e.Name())
		out[tid], _ = strconv.Atoi(f[38]) // field 41; f[0] is field 3
	}
	return out
}

func TestBatchSchedulingCoversEveryThread(t *testing.T) {
	for _, p := range threadPolicies(t) {
		if p != schedOther {
			t.Skipf("the test process was started under scheduling policy %d (chrt); setBatchScheduling leaves it alone", p)
		}
	}
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
