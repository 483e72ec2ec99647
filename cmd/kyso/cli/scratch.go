package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/kyso-dev/kyso/bench"
)

// A bench's scratch directory, in the temporary directory, holds the data directory of the
// server it starts and the limit's store and keys (tens of megabytes after a run); the
// bench removes it when it ends. A bench killed outright cannot, so each records who made
// its directory, and the next bench removes those whose maker is gone.
const (
	scratchPrefix    = "kyso-bench-"
	scratchOwnerFile = "owner"
)

// newScratch makes a scratch directory owned by this process.
func newScratch() (string, error) {
	dir, err := os.MkdirTemp("", scratchPrefix)
	if err != nil {
		return "", err
	}
	if id := bench.ProcessIdentity(os.Getpid()); id != "" {
		if err := os.WriteFile(filepath.Join(dir, scratchOwnerFile), []byte(id+"\n"), 0o600); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	return dir, nil
}

// sweepScratch removes the scratch directories of benches that ended without removing
// them, and says so. It leaves alone a directory whose maker still runs, one without an
// owner record, and everything when it cannot tell (no /proc).
func sweepScratch(logf func(string, ...any)) {
	if bench.ProcessIdentity(os.Getpid()) == "" {
		return
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), scratchPrefix+"*"))
	for _, dir := range dirs {
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
			continue
		}
		owner, err := os.ReadFile(filepath.Join(dir, scratchOwnerFile))
		if err != nil {
			continue
		}
		var pid int
		var start string
		if n, _ := fmt.Sscanf(string(owner), "%d %s", &pid, &start); n != 2 || pid <= 0 {
			continue
		}
		if bench.ProcessIdentity(pid) == fmt.Sprintf("%d %s", pid, start) {
			continue // its bench still runs
		}
		if err := os.RemoveAll(dir); err != nil {
			logf("could not remove %s, left by a bench that has ended: %v", dir, err)
			continue
		}
		logf("removed %s, left by a bench (pid %d) that ended without removing it", dir, pid)
	}
}
