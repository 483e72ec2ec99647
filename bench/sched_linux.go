//go:build linux

package bench

import (
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// Scheduling policies (sched(7)).
const (
	schedOther = 0
	schedBatch = 3
)

// setBatchScheduling puts every thread of this process under SCHED_BATCH (batch) or back
// under SCHED_OTHER. Under SCHED_BATCH a thread that wakes up does not preempt the one
// running: beside the server it measures, the load generator's wake-ups (an answer, an
// event) then wait for a CPU to come free instead of switching the server's thread out,
// and several are handled at once. Threads started later inherit the policy of the thread
// that starts them; a thread started during the change may be missed, so it goes over the
// threads twice.
func setBatchScheduling(batch bool) error {
	policy := schedOther
	if batch {
		policy = schedBatch
	}
	var firstErr error
	for range 2 {
		entries, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, e := range entries {
			tid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			var param struct{ priority int32 } // 0: the only priority of these policies
			_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), uintptr(policy), uintptr(unsafe.Pointer(&param)))
			if errno != 0 && errno != syscall.ESRCH && firstErr == nil { // ESRCH: the thread ended
				firstErr = errno
			}
		}
	}
	return firstErr
}
