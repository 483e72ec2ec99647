package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kyso-dev/kyso/bench"
)

// TestSweepScratch: a bench removes the scratch directories whose maker is gone — ended,
// exited but not yet collected, or its pid now another process's — and nothing else.
func TestSweepScratch(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("telling a running process from a gone one reads /proc")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ended := exec.Command(os.Args[0], "-test.run=^$")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	// A process that has exited but whose parent has not collected its status yet is gone
	// too, though /proc still shows it (with its start time).
	zombie := exec.Command("cat")
	stdin, err := zombie.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := zombie.Start(); err != nil {
		t.Fatal(err)
	}
	defer zombie.Wait()
	zombieID := bench.ProcessIdentity(zombie.Process.Pid) // running: cat waits for its input
	stdin.Close()
	for i := 0; ; i++ {
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", zombie.Process.Pid))
		if strings.Contains(string(stat), ") Z ") {
			break
		}
		if i == 200 {
			t.Fatalf("cat (pid %d) did not exit 10 s after its input closed: %s", zombie.Process.Pid, stat)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mine, err := newScratch()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(mine, tmp) {
		t.Fatalf("scratch directory %s outside the temporary directory %s", mine, tmp)
	}
	dir := func(name, owner string) string {
		d := filepath.Join(tmp, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			if err := os.WriteFile(filepath.Join(d, scratchOwnerFile), []byte(owner), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	gone := []string{
		dir(scratchPrefix+"ended", fmt.Sprintf("%d 12345\n", ended.Process.Pid)),
		dir(scratchPrefix+"reused", fmt.Sprintf("%d 1\n", os.Getpid())), // this pid, another start time
		dir(scratchPrefix+"zombie", zombieID+"\n"),
	}
	kept := []string{
		mine,
		dir(scratchPrefix+"no-owner", ""),
		dir(scratchPrefix+"unreadable-owner", "not a process\n"),
		dir("other-ended", fmt.Sprintf("%d 12345\n", ended.Process.Pid)),
	}
	var said []string
	sweepScratch(func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) })
	for _, d := range gone {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", d, err)
		}
	}
	for _, d := range kept {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed: %v", d, err)
		}
	}
	if len(said) != len(gone) || !strings.Contains(said[0], "ended without removing it") {
		t.Errorf("said %q, want a line for each of the %d directories removed", said, len(gone))
	}
}
