//go:build unix && !linux

package e2e

import "os/exec"

// setDeathSignal does nothing where there is no parent-death signal: the
// t.Cleanup that stops each daemon is all there is.
func setDeathSignal(*exec.Cmd) {}
