package cli

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel stop cmd's process (SIGTERM, the graceful stop) if this
// process dies first — killed, or ended by a broken pipe — so that a child server is never
// left running on its own.
func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
}
