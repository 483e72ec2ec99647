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
// A process whose main thread runs under another policy than SCHED_OTHER (started with
// chrt) is left as it is: the operator chose its scheduling.
func setBatchScheduling(batch bool) error {
	policy := schedOther
	if batch {
		policy = schedBatch
		if cur, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, uintptr(os.Getpid()), 0, 0); errno != 0 {
			return fmt.Errorf("read the scheduling policy: %w", errno)
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
			if err := setThreadPolicy(tid, policy); err != nil && err != syscall.ESRCH && firstErr == nil { // ESRCH: the thread ended
				firstErr = fmt.Errorf("set the scheduling policy of thread %d: %w", tid, err)
			}
		}
	}
	return firstErr
}

func setThreadPolicy(tid, policy int) error {
	var param struct{ priority int32 } // 0: the only priority of these policies
	if _, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), uintptr(policy), uintptr(unsafe.Pointer(&param))); errno != 0 {
		return errno
	}
	return nil
}
