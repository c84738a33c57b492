//go:build !unix

package e2e

import (
	"errors"
	"os"
	"os/exec"
)

func setProcessGroup(*exec.Cmd) {}

// signalGroup kills the child itself: there is no process group to signal.
func signalGroup(cmd *exec.Cmd, _ bool) error {
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}
