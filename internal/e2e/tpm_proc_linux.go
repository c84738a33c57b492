package e2e

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel kill the child when the test process dies
// without running its clean-ups (a go test time-out panics): a daemon must
// not outlive the test that started it.
func setDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
