//go:build unix

package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// daemonStopTimeout is how long a daemon gets to exit after SIGTERM before
// its process group is killed.
const daemonStopTimeout = 5 * time.Second

// daemon is a long-running helper process (swtpm, dbus-daemon,
// tpm2-abrmd, pkcsslotd) started in the foreground, in a process group of
// its own, with stdout and stderr in a log file. Stop ends the whole group.
type daemon struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error // set before exited is closed

	stopOnce sync.Once
	stopErr  error
}

// startDaemon starts bin with args in dir under env (nothing else of this
// process's environment), logging to logPath.
func startDaemon(name, dir, logPath string, env []string, bin string, args ...string) (*daemon, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor
	d := &daemon{name: name, logPath: logPath, exited: make(chan struct{})}
	d.cmd = exec.Command(bin, args...)
	d.cmd.Env = env
	d.cmd.Dir = dir
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	setProcessGroup(d.cmd)
	setDeathSignal(d.cmd)
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("e2e: starting %s: %w", name, err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	}()
	return d, nil
}

// running reports whether the process has not exited yet.
func (d *daemon) running() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// exitedErr describes how a daemon that has exited ended, with its log.
func (d *daemon) exitedErr() error {
	return fmt.Errorf("%s exited: %v; log: %s", d.name, d.waitErr, d.logTail())
}

// signal sends sig to the daemon's process group; a group that is gone is
// not an error.
func (d *daemon) signal(sig syscall.Signal) error {
	if err := syscall.Kill(-d.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("e2e: signalling %s: %w", d.name, err)
	}
	return nil
}

// Kill ends the process group with SIGKILL, as a crash would, and waits.
func (d *daemon) Kill() error {
	if err := d.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-d.exited
	return nil
}

// Stop ends the process group: SIGCONT (a stopped group must see the
// signal), SIGTERM, then SIGKILL after [daemonStopTimeout]; it waits for
// the process and is safe to call more than once and after Kill. An exit
// caused by a signal is not an error.
func (d *daemon) Stop() error {
	d.stopOnce.Do(func() {
		if d.running() {
			_ = d.signal(syscall.SIGCONT)
			if err := d.signal(syscall.SIGTERM); err != nil {
				d.stopErr = err
			}
			select {
			case <-d.exited:
			case <-time.After(daemonStopTimeout):
			}
		}
		if err := d.signal(syscall.SIGKILL); err != nil && d.stopErr == nil {
			d.stopErr = err
		}
		<-d.exited
	})
	// Anything the daemon started is in its group: make sure it is gone
	// too, even when the daemon itself had already exited.
	if err := d.signal(syscall.SIGKILL); err != nil && d.stopErr == nil {
		d.stopErr = err
	}
	return d.stopErr
}

// logTail returns the end of the daemon's log.
func (d *daemon) logTail() string {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return strings.TrimSpace(string(b))
}
