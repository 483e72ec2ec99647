package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat times (100 on Linux).
const clockTicks = 100

// processCPU returns the user+system CPU seconds the process has used.
func processCPU(pid int) (float64, error) {
	if pid == 0 {
		return 0, errors.New("no process")
	}
	f, err := statFields(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	if len(f) < 13 {
		return 0, errors.New("bad /proc stat")
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / clockTicks, nil
}

// ProcessIdentity is "PID START" for a running process, START being its start time from
// /proc (which tells it from a later process given the same pid); "" if there is no such
// process, only its exit status waiting to be collected (a zombie), or no /proc.
func ProcessIdentity(pid int) string {
	f, err := statFields(fmt.Sprintf("/proc/%d/stat", pid))
	// f[0] is field 3 of proc(5), the state; f[19] field 22, the start time.
	if err != nil || len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return ""
	}
	return fmt.Sprintf("%d %s", pid, f[19])
}

// statFields returns the fields of a /proc stat file (a process's or a thread's) after the
// command name, which may hold spaces: the first is field 3 of proc(5), the state.
func statFields(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return nil, errors.New("bad /proc stat")
	}
	return strings.Fields(string(raw[i+1:])), nil
}

// machineCPU returns the machine's busy and total CPU time so far, in USER_HZ ticks, from
// /proc/stat (busy: everything but idle and I/O wait).
func machineCPU() (busy, total float64, err error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, errors.New("bad /proc/stat")
	}
	for i, v := range f[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		if i >= 8 { // guest times are already counted in user and nice
			break
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total, nil
}

// selfCPU returns the user+system CPU seconds this process has used.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// processPeakRSS returns VmHWM, the peak resident set, in bytes.
func processPeakRSS(pid int) (int64, error) { return procStatusKB(pid, "VmHWM:") }

// processRSS returns VmRSS, the current resident set, in bytes.
func processRSS(pid int) (int64, error) { return procStatusKB(pid, "VmRSS:") }

func procStatusKB(pid int, field string) (int64, error) {
	if pid == 0 {
		return 0, errors.New("no process")
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New(field + " not found")
}
