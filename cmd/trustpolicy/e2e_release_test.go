package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/bulk"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
)

// releaseWorld is a real registry holding a release of more than 50
// artifacts, and one notation configuration that trusts their signers:
// notation's own test key (ca:test), the ec-256 test chain whose leaf key
// is in SoftHSM behind the plugin (ca:pkcs11), and an OpenSSL CA with
// OCSP and CRLs (ca:ossl). Statement "wrongid" trusts another identity.
type releaseWorld struct {
	*e2eWorld
	pusher *e2e.Pusher
	// own is notation's own test key and certificate, to sign in-process.
	ownKey   crypto.Signer
	ownChain []*x509.Certificate
	// artifacts in the order of the release list.
	arts []releaseArtifact
}

// releaseArtifact is one line of the release list.
type releaseArtifact struct {
	kind, ref string
	want      trustpolicy.Verdict
	// notationArgs verify it with notation (default: verify
	// --insecure-registry REF).
	notationArgs []string
}

func newReleaseWorld(t *testing.T) *releaseWorld {
	t.Helper()
	tools := e2e.ToolsT(t)
	signer := e2e.NewPluginSignerT(t, tools, "tp-release-Pin-5521")
	w := &releaseWorld{e2eWorld: &e2eWorld{tools: tools, reg: e2e.StartRegistryT(t, tools), notation: signer.Notation}}
	w.pusher = e2e.NewPusher(w.reg.Addr())
	w.mustNotation(t, "cert", "generate-test", "--default", "test")
	var err error
	local := filepath.Join(w.notation.ConfigDir(), "localkeys")
	if w.ownKey, err = testpki.LoadSigner(filepath.Join(local, "test.key")); err != nil {
		t.Fatal(err)
	}
	if w.ownChain, err = testpki.LoadCertificates(filepath.Join(local, "test.crt")); err != nil {
		t.Fatal(err)
	}
	roots := t.TempDir()
	ca := e2e.NewOpenSSLCAT(t, e2e.CAOptions{})
	for store, src := range map[string]string{"pkcs11": filepath.Join(testPKI, "ec-256", "root.crt"), "ossl": ca.RootPath()} {
		p := filepath.Join(roots, store+"-root.crt")
		copyFile(t, src, p)
		if err := w.notation.AddCert("ca", store, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.notation.WriteTrustPolicy(policyDoc(
		stmt("release", []string{"*"}, "strict", []string{"ca:test", "ca:pkcs11", "ca:ossl"}, []string{"*"}),
		stmt("wrongid", []string{w.reg.Ref("wrongid")}, "strict", []string{"ca:test"}, []string{"x509.subject: C=US, ST=WA, O=Someone Else"}),
	)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n := 0
	push := func(repo, tag string) ocispec.Descriptor {
		n++
		d, err := w.pusher.Artifact(ctx, repo, tag, fmt.Appendf(nil, "release artifact %d", n))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ref := func(repo string, d ocispec.Descriptor) string { return w.reg.Ref(repo + "@" + d.Digest.String()) }
	add := func(kind, ref string, want trustpolicy.Verdict) {
		w.arts = append(w.arts, releaseArtifact{kind: kind, ref: ref, want: want})
	}

	// Signed by the notation CLI with its own key, both formats.
	for _, format := range []string{"cose", "jws", "cose", "jws"} {
		d := push("own", "")
		w.mustNotation(t, "sign", "--insecure-registry", "--signature-format", format, ref("own", d))
		add("notation sign "+format, ref("own", d), trustpolicy.VerdictVerified)
	}
	// Signed through the plugin, the key in SoftHSM.
	uri := signer.ImportKey(t, filepath.Join(testPKI, "ec-256", "leaf.key"), "release-ec", []byte{0x51})
	for _, format := range []string{"cose", "jws"} {
		d := push("plugin", "")
		signer.Sign(t, uri, filepath.Join(testPKI, "ec-256", "chain.pem"), format, ref("plugin", d))
		add("plugin "+format, ref("plugin", d), trustpolicy.VerdictVerified)
	}

	// The rest is signed in-process and pushed with oras-go, in parallel.
	type job struct {
		kind, repo, tag string
		want            trustpolicy.Verdict
		key             crypto.Signer
		chain           []*x509.Certificate
		sign            *e2e.SignOptions // nil: unsigned
	}
	var jobs []job
	own := func(kind, repo, tag string, want trustpolicy.Verdict, o *e2e.SignOptions) job {
		return job{kind: kind, repo: repo, tag: tag, want: want, key: w.ownKey, chain: w.ownChain, sign: o}
	}
	// The bulk of the release: notation's key, both formats.
	for i := range 30 {
		mt := []string{"application/cose", "application/jose+json"}[i%2]
		jobs = append(jobs, own("notation key "+mt, "own", "", trustpolicy.VerdictVerified, &e2e.SignOptions{MediaType: mt}))
	}
	for range 3 {
		jobs = append(jobs, own("unsigned", "own", "", trustpolicy.VerdictFailed, nil))
		jobs = append(jobs, own("wrong identity", "wrongid", "", trustpolicy.VerdictFailed, &e2e.SignOptions{}))
	}
	// Expired signatures, by the ec-256 test leaf (valid for years, so
	// the signing time can be hours ago).
	ecKey, err := testpki.LoadSigner(filepath.Join(testPKI, "ec-256", "leaf.key"))
	if err != nil {
		t.Fatal(err)
	}
	expired := &e2e.SignOptions{SigningTime: time.Now().Add(-2 * time.Hour), Expiry: time.Now().Add(-time.Hour)}
	for range 2 {
		jobs = append(jobs, job{kind: "expired signature", repo: "own", want: trustpolicy.VerdictFailed, key: ecKey, chain: readChain(t, filepath.Join(testPKI, "ec-256", "chain.pem")), sign: expired})
	}
	// Revocation: an OpenSSL CA's good and revoked leaves.
	for _, name := range []string{"good", "revoked"} {
		certPath, keyPath, err := ca.IssueLeaf(name, "")
		if err != nil {
			t.Fatal(err)
		}
		key, err := testpki.LoadSigner(keyPath)
		if err != nil {
			t.Fatal(err)
		}
		want := trustpolicy.VerdictVerified
		if name == "revoked" {
			must(t, ca.Revoke(certPath, "keyCompromise"))
			want = trustpolicy.VerdictFailed
		}
		for range 2 {
			jobs = append(jobs, job{kind: "openssl ca " + name, repo: "ossl", want: want, key: key, chain: readChain(t, ca.ChainPath(name)), sign: &e2e.SignOptions{}})
		}
	}
	must(t, ca.PublishCRL())
	// Tag only: the list names tags.
	jobs = append(jobs, own("tag only, signed", "tagonly", "v1", trustpolicy.VerdictVerified, &e2e.SignOptions{}),
		own("tag only, unsigned", "tagonly", "v2", trustpolicy.VerdictFailed, nil))

	refs, errs := make([]string, len(jobs)), make([]error, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				j := jobs[i]
				d, err := w.pusher.Artifact(ctx, j.repo, j.tag, fmt.Appendf(nil, "release artifact %s %d", j.kind, i))
				if err == nil && j.sign != nil {
					o := *j.sign
					if o.MediaType == "" {
						o.MediaType = "application/cose"
					}
					var env []byte
					if env, err = e2e.SignEnvelope(j.key, j.chain, d, o); err == nil {
						_, err = w.pusher.Signature(ctx, j.repo, d, o.MediaType, env)
					}
				}
				refs[i], errs[i] = ref(j.repo, d), err
				if j.tag != "" {
					refs[i] = w.reg.Ref(j.repo + ":" + j.tag)
				}
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, j := range jobs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		add(j.kind, refs[i], j.want)
	}
	return w
}

// index pushes an index of linux/amd64 and linux/arm64 manifests to
// multi:tag and returns it with its platform manifests.
func (w *releaseWorld) index(t *testing.T, tag string) (idx ocispec.Descriptor, platforms []ocispec.Descriptor) {
	t.Helper()
	ctx := context.Background()
	for _, arch := range []string{"amd64", "arm64"} {
		d, err := w.pusher.Artifact(ctx, "multi", "", []byte(tag+" "+arch))
		if err != nil {
			t.Fatal(err)
		}
		d.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
		platforms = append(platforms, d)
	}
	idx, err := w.pusher.Index(ctx, "multi", tag, platforms)
	if err != nil {
		t.Fatal(err)
	}
	return idx, platforms
}

// notationVerifies runs notation verify with args (default: by reference)
// and reports whether it passed.
func (w *releaseWorld) notationVerifies(t *testing.T, a releaseArtifact) (bool, string) {
	t.Helper()
	if a.notationArgs == nil {
		return w.notationVerify(t, a.ref)
	}
	n := e2e.NewNotation(w.tools.Notation, filepath.Dir(w.notation.ConfigDir()), []string{"NOTATION_EXPERIMENTAL=1"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, errOut, code, err := n.Run(ctx, a.notationArgs...)
	if err != nil {
		t.Fatalf("notation %q: %v", a.notationArgs, err)
	}
	return code == 0, out + errOut
}

// TestE2EReleaseBulk: one bulk run over a release of more than 50
// artifacts in a real registry (signed by notation with its own key,
// through the plugin, by an OpenSSL CA's good and revoked leaves; unsigned,
// wrong identity, expired, tag only, image indexes, an OCI layout exported
// with oras as a folder and a tar), each verdict compared with notation
// verify on the same artifact, and the JUnit report read by junitparser.
func TestE2EReleaseBulk(t *testing.T) {
	w := newReleaseWorld(t)
	ctx := context.Background()
	scope := w.reg.Ref("own")

	// An index signed by notation (covers both platforms), and one with
	// no signature of its own and only amd64 signed.
	covered, _ := w.index(t, "v1")
	w.mustNotation(t, "sign", "--insecure-registry", w.reg.Ref("multi@"+covered.Digest.String()))
	half, halfPlatforms := w.index(t, "v2")
	env, err := e2e.SignEnvelope(w.ownKey, w.ownChain, halfPlatforms[0], e2e.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.pusher.Signature(ctx, "multi", halfPlatforms[0], "application/cose", env); err != nil {
		t.Fatal(err)
	}
	w.arts = append(w.arts,
		releaseArtifact{kind: "index, signed", ref: w.reg.Ref("multi:v1"), want: trustpolicy.VerdictVerified},
		releaseArtifact{kind: "index, one platform signed", ref: w.reg.Ref("multi@" + half.Digest.String()), want: trustpolicy.VerdictFailed})

	// An OCI layout exported with oras (the artifact and its signature),
	// as a folder and as a tar.
	layout := filepath.Join(t.TempDir(), "layout")
	if err := e2e.CopyToLayout(ctx, w.tools.Oras, w.arts[0].ref, layout, "v1", t.TempDir()); err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(t.TempDir(), "layout.tar")
	(&servicetest.Layout{Dir: layout}).Tar(t, tarPath)
	layoutNotation := []string{"verify", "--oci-layout", layout + ":v1", "--scope", scope}
	w.arts = append(w.arts,
		releaseArtifact{kind: "oci layout folder", ref: "oci-layout:" + layout + ":v1", want: trustpolicy.VerdictVerified, notationArgs: layoutNotation},
		releaseArtifact{kind: "oci layout tar", ref: "oci-layout:" + tarPath + ":v1", want: trustpolicy.VerdictVerified, notationArgs: layoutNotation})
	if len(w.arts) < 50 {
		t.Fatalf("only %d artifacts", len(w.arts))
	}

	var list strings.Builder
	list.WriteString("# release under test\n")
	for _, a := range w.arts {
		fmt.Fprintf(&list, "%s\n# %s\n", a.ref, a.kind)
	}
	dir := t.TempDir()
	listPath, report := filepath.Join(dir, "release.txt"), filepath.Join(dir, "verify.xml")
	if err := os.WriteFile(listPath, []byte(list.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"verify", "--plain-http", "--scope", scope, "--platforms", "all", "--jobs", "4",
		"--from", listPath, "--report", "junit=" + report, "--output", "json"}
	code, out, errOut := w.ours(t, args...)
	if err := clitest.Check(clitest.Run{Args: args, Stdout: out, Stderr: errOut, Code: code}, clitest.Want{Code: exitFailed, JSONLines: true}); err != nil {
		t.Error(err)
	}
	recs, sum := jsonLines(t, out)
	if len(recs) != len(w.arts) || sum.Total != len(w.arts) || sum.ExitCode != exitFailed {
		t.Fatalf("%d records, summary %+v", len(recs), sum)
	}
	failed := 0
	for i, a := range w.arts {
		r := recs[i]
		if r.Reference != a.ref || r.Verdict != a.want {
			t.Errorf("%s %s: verdict %s, want %s: %s", a.kind, a.ref, r.Verdict, a.want, r.Error)
		}
		ok, notationOut := w.notationVerifies(t, a)
		if ok != (r.Verdict == trustpolicy.VerdictVerified) {
			t.Errorf("%s %s: notation verify passed=%v, bulk verdict %s\nnotation: %s\nours: %s", a.kind, a.ref, ok, r.Verdict, notationOut, r.Error)
		}
		if r.Verdict != trustpolicy.VerdictVerified {
			failed++
		}
		// Every platform manifest: its own verdict is notation's on it.
		for _, p := range r.Platforms {
			ok, notationOut := w.notationVerify(t, w.reg.Ref("multi@"+p.Digest))
			if ok != (p.Verdict == trustpolicy.VerdictVerified) {
				t.Errorf("%s %s: notation verify passed=%v, ours %s\n%s", a.kind, p.Platform, ok, p.Verdict, notationOut)
			}
			if p.Covered() {
				continue
			}
			failed++
		}
	}
	checkPlatforms(t, recs[len(recs)-4], recs[len(recs)-3])

	// The JUnit report, as a JUnit consumer reads it.
	j := e2e.ReadJUnitT(t, report)
	if j.Tests != len(w.arts)+4 || j.Failures != failed || len(j.Cases) != j.Tests {
		t.Fatalf("JUnit: %d tests, %d failures; want %d and %d", j.Tests, j.Failures, len(w.arts)+4, failed)
	}
	k := 0
	for _, r := range recs {
		c := j.Cases[k]
		want := map[trustpolicy.Verdict]string{trustpolicy.VerdictVerified: "passed", trustpolicy.VerdictFailed: "failure"}[r.Verdict]
		if c.Name != r.Reference || c.Result != want || (want == "failure" && c.Message != r.Brief) {
			t.Errorf("JUnit case %+v for %s (%s): want %s with message %q", c, r.Reference, r.Verdict, want, r.Brief)
		}
		k += 1 + len(r.Platforms)
	}
}

// checkPlatforms: the signed index covers both platforms; of the other,
// amd64 is covered by its own signature and arm64 by none.
func checkPlatforms(t *testing.T, covered, half bulk.Record) {
	t.Helper()
	if len(covered.Platforms) != 2 || covered.Platforms[0].CoveredBy != bulk.CoveredByIndex || covered.Platforms[1].CoveredBy != bulk.CoveredByIndex {
		t.Errorf("signed index: %+v", covered.Platforms)
	}
	if len(half.Platforms) != 2 || half.Platforms[0].CoveredBy != bulk.CoveredByManifest || half.Platforms[1].CoveredBy != bulk.CoveredByNone {
		t.Errorf("half-signed index: %+v", half.Platforms)
	}
}

// TestE2EPromote: promotion between two repositories of a real registry:
// a signed artifact and a signed index reach production with their
// signatures, and notation verify accepts the copies; an unsigned one is
// refused and production never has it.
func TestE2EPromote(t *testing.T) {
	w := newE2EWorld(t)
	if err := w.notation.WriteTrustPolicy(policyDoc(stmt("release", []string{"*"}, "strict", []string{"ca:test"}, []string{"*"}))); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := e2e.NewPusher(w.reg.Addr())
	art, err := p.Artifact(ctx, "staging/app", "v1", []byte("release 1.0"))
	if err != nil {
		t.Fatal(err)
	}
	w.mustNotation(t, "sign", "--insecure-registry", w.reg.Ref("staging/app@"+art.Digest.String()))
	var plats []ocispec.Descriptor
	for _, arch := range []string{"amd64", "arm64"} {
		d, err := p.Artifact(ctx, "staging/multi", "", []byte("multi "+arch))
		if err != nil {
			t.Fatal(err)
		}
		d.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
		plats = append(plats, d)
	}
	idx, err := p.Index(ctx, "staging/multi", "v1", plats)
	if err != nil {
		t.Fatal(err)
	}
	w.mustNotation(t, "sign", "--insecure-registry", w.reg.Ref("staging/multi@"+idx.Digest.String()))
	unsigned, err := p.Artifact(ctx, "staging/app", "v2", []byte("release 2.0, never signed"))
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct{ src, dst, digest string }{
		{w.reg.Ref("staging/app:v1"), w.reg.Ref("prod/app"), art.Digest.String()},
		{w.reg.Ref("staging/multi:v1"), w.reg.Ref("prod/multi:stable"), idx.Digest.String()},
	} {
		code, out, errOut := w.ours(t, "promote", "--plain-http", c.src, c.dst)
		if code != exitVerified || !strings.Contains(out, "promoted: ") {
			t.Fatalf("promote %s: exit %d\n%s%s", c.src, code, out, errOut)
		}
		dst := c.dst[:strings.LastIndex(c.dst, "/")] + "/" + strings.SplitN(c.dst[strings.LastIndex(c.dst, "/")+1:], ":", 2)[0]
		if ok, nout := w.notationVerify(t, dst+"@"+c.digest); !ok {
			t.Errorf("notation verify of the promoted %s failed:\n%s", dst, nout)
		}
	}
	for _, pl := range plats {
		if _, _, code, err := w.notation.Run(ctx, "inspect", "--insecure-registry", w.reg.Ref("prod/multi@"+pl.Digest.String())); err != nil || code != 0 {
			t.Errorf("platform manifest %s missing in production: exit %d, %v", pl.Digest, code, err)
		}
	}
	code, out, errOut := w.ours(t, "promote", "--plain-http", w.reg.Ref("staging/app@"+unsigned.Digest.String()), w.reg.Ref("prod/app:v2"))
	if code != exitFailed || !strings.Contains(errOut, "nothing was copied") {
		t.Errorf("unsigned: exit %d\n%s%s", code, out, errOut)
	}
	if ok, _ := w.notationVerify(t, w.reg.Ref("prod/app:v2")); ok {
		t.Error("production has the unsigned artifact")
	}
}
