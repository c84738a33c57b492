//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package truststore

import "testing"

// runUnprivileged is not needed here: os.Geteuid is -1 and the permission
// tests end before.
func runUnprivileged(t *testing.T, name string) {
	t.Helper()
	t.Fatalf("%s: no unprivileged re-run on this platform", name)
}
