package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

// TestE2EContainerd runs the verifier under a real containerd v2.4.2
// (built by scripts/tools.sh containerd) and pulls with ctr through the
// transfer service: a signed image pulls; unsigned, untrusted-root,
// wrong-identity and revoked images are refused with our reason in ctr's
// error; with the CRL server down, offline mode and a warm cache, the
// signed image still pulls.
func TestE2EContainerd(t *testing.T) {
	w := newE2EWorld(t)
	ctrd := e2e.StartContainerdT(t, e2e.ContainerdOptions{
		VerifierDir:        w.binDir(),
		PerVerifierTimeout: 5 * time.Second,
		Env:                []string{w.configEnv()},
	})
	signed, signedDigest := w.image(t, "signed", "good", "--signature-format", "cose")
	unsigned, unsignedDigest := w.image(t, "unsigned", "")
	untrusted, _ := w.image(t, "untrusted", "untrusted")
	wrongID, _ := w.image(t, wrongIdentityRepo, "good")
	revoked, _ := w.image(t, "revoked", "revoked")

	pull := func(t *testing.T, ref string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, stderr, code, err := ctrd.Pull(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		return stderr, code
	}
	// refused checks that ctr's error carries our reason: containerd's
	// words, then our first line, with its fix.
	refused := func(t *testing.T, ref string, want ...string) string {
		t.Helper()
		stderr, code := pull(t, ref)
		t.Logf("ctr: %s", stderr)
		if code == 0 {
			t.Fatalf("ctr pulled %s; want the verifier to refuse it", ref)
		}
		prefix := "verifier " + e2e.ContainerdVerifierName + " rejected image (exit code 1): failed: "
		for _, s := range append([]string{"image verifier bindir blocked pull of " + ref, prefix, "; fix: ", "details: trustpolicy explain"}, want...) {
			if !strings.Contains(stderr, s) {
				t.Errorf("ctr's error lacks %q", s)
			}
		}
		return stderr
	}

	t.Run("signed pulls", func(t *testing.T) {
		if stderr, code := pull(t, signed); code != 0 {
			t.Fatalf("ctr pull %s: exit %d: %s", signed, code, stderr)
		}
		if w.ca.CRLFetches(e2e.CANameIntermediate) == 0 {
			t.Error("the verifier did not fetch the intermediate's CRL: revocation was not checked")
		}
	})
	t.Run("unsigned refused", func(t *testing.T) {
		refused(t, unsigned, w.reg.Ref("unsigned@")+unsignedDigest, "no signature is associated")
	})
	t.Run("untrusted root refused", func(t *testing.T) {
		refused(t, untrusted, "authenticity check failed", "does not contain any trusted certificate")
	})
	t.Run("wrong identity refused", func(t *testing.T) {
		refused(t, wrongID, "does not match the X.509 trusted identities", "O=Someone Else")
	})
	t.Run("revoked refused", func(t *testing.T) {
		refused(t, revoked, "revocation", "revoked")
	})
	// The fix printed for an unsigned image works as printed: run it, and
	// the image pulls.
	t.Run("unsigned: the printed fix signs it", func(t *testing.T) {
		stderr := refused(t, unsigned)
		_, fix, _ := strings.Cut(stderr, "; fix: sign it: notation ")
		cmd, _, ok := strings.Cut(fix, "; or ")
		if !ok {
			t.Fatalf("no notation sign command in %q", stderr)
		}
		w.sign(t, strings.Fields(strings.TrimPrefix(cmd, "sign --insecure-registry "))...)
		if stderr, code := pull(t, unsigned); code != 0 {
			t.Fatalf("after %q: exit %d: %s", cmd, code, stderr)
		}
	})
	t.Run("offline with a warm cache, CRL server down", func(t *testing.T) {
		if err := w.ca.SetCRLDown(true); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := w.ca.SetCRLDown(false); err != nil {
				t.Error(err)
			}
		})
		w.writeConfig(t, w.cache(), true)
		t.Cleanup(func() { w.writeConfig(t, w.cache(), false) })
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := ctrd.Remove(ctx, signed); err != nil {
			t.Fatal(err)
		}
		before := w.ca.CRLFetches(e2e.CANameIntermediate)
		if stderr, code := pull(t, signed); code != 0 {
			t.Fatalf("offline pull of %s@%s: exit %d: %s", signed, signedDigest, code, stderr)
		}
		if after := w.ca.CRLFetches(e2e.CANameIntermediate); after != before {
			t.Errorf("offline mode fetched the CRL (%d fetches, then %d)", before, after)
		}
		// The revoked image stays refused offline: the cached CRL lists it.
		refused(t, revoked, "revoked")
		// A cold cache offline cannot prove anything: refused.
		w.writeConfig(t, t.TempDir(), true)
		if err := ctrd.Remove(ctx, signed); err != nil {
			t.Fatal(err)
		}
		refused(t, signed, "revocation")
	})
	t.Run("containerd logs the verifier's stderr", func(t *testing.T) {
		log, err := os.ReadFile(ctrd.LogPath())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(log), e2e.ContainerdVerifierName+": configuration "+w.config()) {
			t.Errorf("containerd's debug log lacks the verifier's stderr; it ends:\n%s", tailString(string(log), 3000))
		}
	})
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
