package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/bulk"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
)

// bulkWorld is an in-process registry on 127.0.0.1 holding artifacts
// signed by the ec-256 test leaf, and a notation configuration whose
// policy trusts its root (ca:test) for every repository, skips REG/skip
// and is inconclusive for REG/incon (a signingAuthority store only).
type bulkWorld struct {
	*localWorld
	reg    *servicetest.WritableRegistry
	signer *servicetest.Signer
}

func newBulkWorld(t *testing.T) *bulkWorld {
	t.Helper()
	w := &bulkWorld{localWorld: newLocalWorld(t, goodPolicy), reg: servicetest.NewWritableRegistry(t), signer: servicetest.NewSigner(t, pkiDir, "ec-256")}
	sa := filepath.Join(w.config, "truststore", "x509", "signingAuthority", "test")
	if err := os.MkdirAll(sa, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(pkiDir, "ec-256", "root.crt"), filepath.Join(sa, "root.crt"))
	w.writePolicy(t, w.policy(`["ca:test"]`))
	return w
}

// policy is the world's policy with the catch-all statement's trust
// stores.
func (w *bulkWorld) policy(stores string) string {
	return fmt.Sprintf(`{"version":"1.0","trustPolicies":[
 {"name":"all","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":%s,"trustedIdentities":["*"]},
 {"name":"skip","registryScopes":[%q],"signatureVerification":{"level":"skip"}},
 {"name":"incon","registryScopes":[%q],"signatureVerification":{"level":"strict"},"trustStores":["signingAuthority:test"],"trustedIdentities":["*"]}]}`,
		stores, w.reg.Ref("skip"), w.reg.Ref("incon"))
}

// artifact pushes an artifact to repo:tag and returns its descriptor.
func (w *bulkWorld) artifact(repo, tag, content string) ocispec.Descriptor {
	put := func(mt string, data []byte) ocispec.Descriptor { return w.reg.PutBlob(mt, data) }
	return w.reg.PutManifest(repo, tag, ocispec.MediaTypeImageManifest, servicetest.ImageManifest(put, []byte(content)))
}

// signed pushes a signed artifact and returns REG/repo@DIGEST.
func (w *bulkWorld) signed(t *testing.T, repo, tag, content string) string {
	t.Helper()
	d := w.artifact(repo, tag, content)
	w.sign(t, repo, d)
	return w.reg.Ref(repo + "@" + d.Digest.String())
}

func (w *bulkWorld) sign(t *testing.T, repo string, d ocispec.Descriptor) {
	t.Helper()
	d = ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
	w.reg.AddSignature(repo, d, "application/cose", w.signer.Sign(t, d, "application/cose"))
}

type runResult struct {
	code           int
	stdout, stderr string
}

// runIn runs the command with w's configuration, stdin and the clock of
// localWorld.run.
func (w *bulkWorld) runIn(t *testing.T, stdin io.Reader, args ...string) runResult {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, env{
		stdin:  stdin,
		stdout: &out,
		stderr: &errOut,
		getenv: configOnly(w.config),
		now:    func() time.Time { return time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC) },
	})
	return runResult{code, out.String(), errOut.String()}
}

func (w *bulkWorld) runBulk(t *testing.T, args ...string) runResult {
	t.Helper()
	return w.runIn(t, nil, args...)
}

// check applies the CLI contract.
func (r runResult) check(t *testing.T, args []string, want clitest.Want) {
	t.Helper()
	if err := clitest.Check(clitest.Run{Args: args, Stdout: r.stdout, Stderr: r.stderr, Code: r.code}, want); err != nil {
		t.Error(err)
	}
}

// jsonLines decodes bulk JSON Lines: the records and the summary.
func jsonLines(t *testing.T, out string) ([]bulk.Record, bulk.Summary) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var recs []bulk.Record
	for _, l := range lines[:len(lines)-1] {
		var r bulk.Record
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Schema != bulk.RecordSchema {
			t.Fatalf("record line %q: %v", l, err)
		}
		recs = append(recs, r)
	}
	var s bulk.Summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil || s.Schema != bulk.SummarySchema {
		t.Fatalf("summary line %q: %v", lines[len(lines)-1], err)
	}
	return recs, s
}
