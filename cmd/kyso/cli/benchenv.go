package cli

import (
	"os"
	"strings"
)

// The load generator allocates quickly (every answer's buffers, every device signature's
// nonce state) and its heap is fragmented, so after each collection Go's scavenger hands
// some free pages back to the kernel with MADV_DONTNEED, and the next allocations fault
// them in again, zeroed: about three page faults per transaction in an EC-P256 run. With
// MADV_FREE (GODEBUG=madvdontneed=0) the kernel takes such pages only under memory
// pressure and their reuse does not fault. The setting is read once, when a Go process
// starts, so kyso bench starts itself again with it; the processes it starts to stand for
// the server (kyso serve, the limit's HTTP peer) get the environment it was started with,
// so that they run as an operator runs them.
const (
	loadGODEBUG = "madvdontneed=0"
	// benchGODEBUGVar holds, in the restarted bench's environment, the GODEBUG it was
	// started with ("" when there was none), to give back to its children.
	benchGODEBUGVar = "KYSO_BENCH_GODEBUG"
)

// loadGeneratorEnv returns the environment kyso bench restarts itself with, or nil when
// it runs as it should already: restarted, or with a madvdontneed setting of the user's own.
func loadGeneratorEnv(env []string) []string {
	if _, restarted := lookupEnv(env, benchGODEBUGVar); restarted {
		return nil
	}
	godebug, _ := lookupEnv(env, "GODEBUG")
	for s := range strings.SplitSeq(godebug, ",") {
		if strings.HasPrefix(s, "madvdontneed=") {
			return nil
		}
	}
	out := withoutEnv(env, "GODEBUG")
	load := loadGODEBUG
	if godebug != "" {
		load = godebug + "," + loadGODEBUG
	}
	return append(out, "GODEBUG="+load, benchGODEBUGVar+"="+godebug)
}

// serverEnv returns the environment for a process the bench starts to stand for the
// server: the one the bench was started with.
func serverEnv(env []string) []string {
	was, restarted := lookupEnv(env, benchGODEBUGVar)
	if !restarted {
		return env
	}
	out := withoutEnv(withoutEnv(env, "GODEBUG"), benchGODEBUGVar)
	if was != "" {
		out = append(out, "GODEBUG="+was)
	}
	return out
}

// lookupEnv is os.LookupEnv on env; the last setting wins, as in the process.
func lookupEnv(env []string, name string) (value string, ok bool) {
	for _, kv := range env {
		if v, found := strings.CutPrefix(kv, name+"="); found {
			value, ok = v, true
		}
	}
	return value, ok
}

// withoutEnv returns env without its settings of name.
func withoutEnv(env []string, name string) []string {
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// restartForLoad starts this kyso bench again with loadGODEBUG, when this process is a
// kyso bench (not a test calling the command in-process) that has not been restarted yet.
// It returns only if it did not restart, with the reason when it tried and failed.
func restartForLoad() error {
	if len(os.Args) < 2 || os.Args[1] != "bench" {
		return nil
	}
	env := loadGeneratorEnv(os.Environ())
	if env == nil {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return execSelf(exe, os.Args, env)
}
