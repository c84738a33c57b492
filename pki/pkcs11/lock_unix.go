//go:build unix

package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// fileLock is an advisory flock(2) lock that serialises module use between
// processes. Some modules are not safe for concurrent use by several
// processes: SoftHSM's file object store rewrites the token file on login
// while other processes read it, and smart cards are single-user.
type fileLock struct {
	f         *os.File
	exclusive bool
}

func acquireLock(ctx context.Context, path string, exclusive bool) (*fileLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("failed to create the lock folder: %w", err)
	}
	// No symbolic link is followed and no FIFO waited on: the lock file
	// is created here and must be a regular file.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, tagged(ErrLockFile, "failed to open the lock file: %w", err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, tagged(ErrLockFile, "the lock file %s is not a regular file; remove it", path)
	}
	l := &fileLock{f: f}
	if err := l.flock(ctx, exclusive); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// flock takes the lock, shared or exclusive, waiting until ctx ends.
func (l *fileLock) flock(ctx context.Context, exclusive bool) error {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for wait := time.Millisecond; ; wait = min(2*wait, 20*time.Millisecond) {
		err := unix.Flock(int(l.f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			l.exclusive = exclusive
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("failed to lock %s: %w", l.f.Name(), err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: another process held the module lock %s for longer than the time-out", ErrTimeout, l.f.Name())
		case <-time.After(wait):
		}
	}
}

// upgrade makes a shared lock exclusive. flock(2) converts by dropping the
// shared lock first, so two processes that upgrade at once do not
// deadlock. No lock, or an exclusive one, is left as it is.
func (l *fileLock) upgrade(ctx context.Context) error {
	if l == nil || l.exclusive {
		return nil
	}
	return l.flock(ctx, true)
}

func (l *fileLock) release() {
	if l != nil {
		_ = l.f.Close() // closing drops the flock
	}
}
