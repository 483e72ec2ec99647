package bench

import (
	"fmt"
	"os"
	"runtime"
	"testing"
)

func TestProcessIdentity(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("a process's identity is read from /proc, which only Linux has")
	}
	id := ProcessIdentity(os.Getpid())
	var pid int
	var start string
	if n, _ := fmt.Sscanf(id, "%d %s", &pid, &start); n != 2 || pid != os.Getpid() || start == "" {
		t.Fatalf("identity %q", id)
	}
	if again := ProcessIdentity(os.Getpid()); again != id {
		t.Fatalf("identity %q, then %q", id, again)
	}
	if got := ProcessIdentity(-1); got != "" {
		t.Fatalf("identity of no process: %q", got)
	}
}
