package main

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/notaryproject/notation-go"
	nsigner "github.com/notaryproject/notation-go/signer"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
)

// countingListener accepts TCP connections on 127.0.0.1, counts them and
// closes them at once: whatever connects to it fails, and is counted.
type countingListener struct {
	ln net.Listener
	n  atomic.Int32
}

func newCountingListener(t *testing.T) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &countingListener{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.n.Add(1)
			conn.Close()
		}
	}()
	return c
}

func (c *countingListener) addr() string { return c.ln.Addr().String() }

// layoutWorld is an OCI layout (folder and tar) holding an artifact
// tagged v1 signed by a leaf whose OCSP and CRL URLs, like the trust
// policy scope, point at a counting listener.
type layoutWorld struct {
	*localWorld
	dir, tar string
	net      *countingListener
	scope    string
	digest   string
}

func newLayoutWorld(t *testing.T, level string) *layoutWorld {
	t.Helper()
	cl := newCountingListener(t)
	scope := cl.addr() + "/release/app"
	w := &layoutWorld{localWorld: newLocalWorld(t, `{"version":"1.0","trustPolicies":[{"name":"layout","registryScopes":["`+scope+`"],
 "signatureVerification":{"level":"`+level+`"},"trustStores":["ca:test"],"trustedIdentities":["*"]}]}`), net: cl, scope: scope}
	chain, key := issueLeaf(t, testSubject("Layout Signer"), []string{"http://" + cl.addr() + "/ocsp"}, []string{"http://" + cl.addr() + "/leaf.crl"})
	s, err := nsigner.NewGenericSigner(key, chain)
	if err != nil {
		t.Fatal(err)
	}
	w.dir = filepath.Join(t.TempDir(), "layout")
	l := servicetest.NewLayout(t, w.dir)
	put := func(mt string, data []byte) ocispec.Descriptor { return l.PutBlob(t, mt, data) }
	d := l.PutManifest(t, "v1", ocispec.MediaTypeImageManifest, servicetest.ImageManifest(put, []byte("air-gapped release")))
	env, _, err := s.Sign(context.Background(), d, notation.SignerSignOptions{SignatureMediaType: "application/cose"})
	if err != nil {
		t.Fatal(err)
	}
	l.AddSignature(t, d, "application/cose", env)
	l.PutManifest(t, "unsigned", ocispec.MediaTypeImageManifest, servicetest.ImageManifest(put, []byte("nobody signed this")))
	w.digest = d.Digest.String()
	w.tar = filepath.Join(t.TempDir(), "layout.tar")
	l.Tar(t, w.tar)
	return w
}

// TestLayoutVerify: oci-layout:PATH:TAG and @DIGEST, a folder and a tar,
// one reference and many.
func TestLayoutVerify(t *testing.T) {
	w := newLayoutWorld(t, "permissive")
	cache := t.TempDir()
	// The tar the guide makes: tar -cf release.tar -C release .
	gnuTar := filepath.Join(t.TempDir(), "release.tar")
	if out, err := exec.Command(e2e.LookPathT(t, "tar", "tar", "the guide's tar command is tried"), "-cf", gnuTar, "-C", w.dir, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	for _, path := range []string{w.dir, w.tar, gnuTar} {
		for _, ref := range []string{"oci-layout:" + path + ":v1", "oci-layout:" + path + "@" + w.digest} {
			args := []string{"verify", "--offline", "--crl-cache", cache, "--scope", w.scope, ref}
			code, out, errOut := w.run(t, args...)
			if code != exitVerified || !strings.Contains(out, "verified: ") || !strings.Contains(out, w.digest[:20]) {
				t.Errorf("%s: exit %d\n%s%s", ref, code, out, errOut)
			}
		}
	}
	args := []string{"verify", "--offline", "--crl-cache", cache, "--scope", w.scope, "--output", "json", "--all-tags", "oci-layout:" + w.tar}
	code, out, errOut := w.run(t, args...)
	if err := clitest.Check(clitest.Run{Args: args, Stdout: out, Stderr: errOut, Code: code}, clitest.Want{Code: exitFailed, JSONLines: true}); err != nil {
		t.Error(err)
	}
	recs, sum := jsonLines(t, out)
	if sum.Verified != 1 || sum.Failed != 1 || recs[0].Reference != "oci-layout:"+w.tar+":unsigned" || recs[1].Digest != w.digest {
		t.Errorf("--all-tags of a layout: %+v %+v", recs, sum)
	}
	code, _, errOut = w.run(t, "verify", "--offline", "--crl-cache", cache, "oci-layout:"+w.dir+":v1")
	if code != exitUsage || !strings.Contains(errOut, "--scope") {
		t.Errorf("without --scope: exit %d: %s", code, errOut)
	}
	code, _, errOut = w.run(t, "verify", "--scope", w.scope, "oci-layout:"+w.dir+"/missing:v1")
	if code != exitUsage || !strings.Contains(errOut, "invalid OCI image layout") {
		t.Errorf("missing layout: exit %d: %s", code, errOut)
	}
}

// TestLayoutOfflineNoNetwork: with --offline and a layout, not one network
// connection is made, though the scope's registry host and the signing
// certificate's OCSP and CRL URLs all name a listening port; without
// --offline the same run connects (the counter works).
func TestLayoutOfflineNoNetwork(t *testing.T) {
	w := newLayoutWorld(t, "permissive")
	cache := t.TempDir()
	for _, args := range [][]string{
		{"verify", "--offline", "--crl-cache", cache, "--scope", w.scope, "oci-layout:" + w.dir + ":v1"},
		{"explain", "--offline", "--crl-cache", cache, "--scope", w.scope, "oci-layout:" + w.tar + "@" + w.digest},
		{"verify", "--offline", "--crl-cache", cache, "--scope", w.scope, "--jobs", "4", "--platforms", "all",
			"oci-layout:" + w.dir + ":v1", "oci-layout:" + w.tar + ":v1", "oci-layout:" + w.tar + ":unsigned"},
	} {
		code, out, errOut := w.run(t, args...)
		if code == exitUsage || !strings.Contains(strings.ToLower(out), "verified") {
			t.Errorf("%q: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	if n := w.net.n.Load(); n != 0 {
		t.Fatalf("%d network connections under --offline", n)
	}
	code, out, errOut := w.run(t, "verify", "--no-disk-cache", "--ocsp-timeout", "2s", "--crl-timeout", "2s", "--scope", w.scope, "oci-layout:"+w.dir+":v1")
	if w.net.n.Load() == 0 {
		t.Errorf("the control run without --offline made no connection (exit %d):\n%s%s", code, out, errOut)
	}
}
