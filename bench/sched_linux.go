//go:build linux

package bench

import (
	"fmt"
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
//
// A process started under another policy than SCHED_OTHER (chrt) is left as it is: the
// operator chose its scheduling.
func setBatchScheduling(batch bool) error {
	policy := schedOther
	if batch {
		policy = schedBatch
		if cur, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, 0, 0, 0); errno != 0 {
			return errno
		} else if cur != schedOther {
			return fmt.Errorf("the process runs under scheduling policy %d, chosen when it was started", cur)
		}
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
