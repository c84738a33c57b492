//go:build unix

package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// silenceDescriptors points file descriptors 1 and 2 at /dev/null for the
// rest of the process and returns files on duplicates of the originals.
// A PKCS#11 module is C code that may write to fd 1 or 2 directly; notation
// parses the plugin's stdout as the response and its stderr as the error,
// so nothing but the protocol's JSON may reach them.
func silenceDescriptors() (stdout, stderr *os.File, err error) {
	out, err := unix.Dup(1)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to duplicate stdout: %w", err)
	}
	errFD, err := unix.Dup(2)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to duplicate stderr: %w", err)
	}
	unix.CloseOnExec(out)
	unix.CloseOnExec(errFD)
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to open %s: %w", os.DevNull, err)
	}
	defer null.Close()
	for _, fd := range []int{1, 2} {
		if err := unix.Dup2(int(null.Fd()), fd); err != nil {
			return nil, nil, fmt.Errorf("failed to redirect fd %d: %w", fd, err)
		}
	}
	return os.NewFile(uintptr(out), "stdout"), os.NewFile(uintptr(errFD), "stderr"), nil
}
