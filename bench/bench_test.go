package bench

import "testing"

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
