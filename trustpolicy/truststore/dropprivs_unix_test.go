//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package truststore

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// unprivileged is the uid and gid the permission tests run as when the
// tests run as root (CI), for whom permission bits deny nothing.
const unprivileged = 65534

// runUnprivileged runs the test named name again in a child process of
// this test binary under uid and gid 65534, and fails if the child fails
// or does not run it. The binary is copied to a folder that user can
// read, since go test builds it in a private one.
func runUnprivileged(t *testing.T, name string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "truststore-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "truststore.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run", "^"+name+"$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: unprivileged, Gid: unprivileged}}
	out, err := cmd.CombinedOutput()
	t.Logf("as uid %d:\n%s", unprivileged, out)
	if err != nil {
		t.Fatalf("%s as uid %d: %v", name, unprivileged, err)
	}
	if !strings.Contains(string(out), "--- PASS: "+name) || strings.Contains(string(out), "--- SKIP") {
		t.Fatalf("%s did not run as uid %d", name, unprivileged)
	}
}
