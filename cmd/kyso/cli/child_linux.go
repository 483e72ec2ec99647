package cli

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel stop cmd's process (SIGTERM, the graceful stop) if this
// process dies first — killed, or ended by a broken pipe — so that a child server is never
// left running on its own. The signal follows the thread that starts the child, and Go
// ends a thread only when a goroutine locked to it (runtime.LockOSThread) returns, which
// this program never does.
func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
}

// execSelf replaces this process with exe run with args and env; it returns only on failure.
func execSelf(exe string, args, env []string) error { return syscall.Exec(exe, args, env) }
