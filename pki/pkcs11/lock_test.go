package pkcs11

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The module lock: a lock held by another open file description times
// out with ErrTimeout; a symbolic link or a FIFO at the lock path is
// refused at once rather than followed or waited on.
func TestAcquireLock(t *testing.T) {
	dir := t.TempDir()
	t.Run("held elsewhere", func(t *testing.T) {
		path := filepath.Join(dir, "held.lock")
		l, err := acquireLock(context.Background(), path, true)
		if err != nil {
			t.Fatal(err)
		}
		defer l.release()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := acquireLock(ctx, path, false); !errors.Is(err, ErrTimeout) {
			t.Fatalf("got %v, want ErrTimeout", err)
		}
		l.release()
		l2, err := acquireLock(context.Background(), path, false)
		if err != nil {
			t.Fatalf("after release: %v", err)
		}
		l2.release()
	})
	t.Run("symlink", func(t *testing.T) {
		target := filepath.Join(dir, "elsewhere")
		path := filepath.Join(dir, "link.lock")
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
		if _, err := acquireLock(context.Background(), path, true); err == nil || !errors.Is(err, unix.ELOOP) {
			t.Fatalf("got %v, want the symbolic link refused", err)
		}
		if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the link's target was created: %v", err)
		}
	})
	t.Run("FIFO", func(t *testing.T) {
		path := filepath.Join(dir, "fifo.lock")
		if err := unix.Mkfifo(path, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := acquireLock(context.Background(), path, true); !errors.Is(err, ErrLockFile) {
			t.Fatalf("got %v, want the FIFO refused", err)
		}
	})
}
