package service_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

const (
	pkiDir = "../../testdata/pki"
	cose   = "application/cose"
	jws    = "application/jose+json"
)

// testNow is within every test certificate's validity.
var testNow = time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)

// world is an artifact app:v1 in an in-process registry on 127.0.0.1, the
// ec-256 test signer whose root the policy trusts, and an untrusted
// rsa-2048 signer.
type world struct {
	reg       *servicetest.Registry
	signer    *servicetest.Signer
	untrusted *servicetest.Signer
	subject   ocispec.Descriptor
	other     ocispec.Descriptor // app:v2
}

func newWorld(t *testing.T) *world {
	t.Helper()
	reg := servicetest.NewRegistry(t)
	return &world{
		reg:       reg,
		signer:    servicetest.NewSigner(t, pkiDir, "ec-256"),
		untrusted: servicetest.NewSigner(t, pkiDir, "rsa-2048"),
		subject:   reg.PutManifest("app", "v1", ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"artifact":"v1"}`)),
		other:     reg.PutManifest("app", "v2", ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"artifact":"v2"}`)),
	}
}

// ref is REGISTRY/app@DIGEST of the artifact.
func (w *world) ref() string { return w.reg.Ref("app@" + w.subject.Digest.String()) }

// good adds a valid signature of the artifact.
func (w *world) good(t *testing.T) ocispec.Descriptor {
	t.Helper()
	return w.reg.AddSignature("app", w.subject, cose, w.signer.Sign(t, w.subject, cose))
}

// bad adds a well-formed signature of the artifact by an untrusted signer.
func (w *world) bad(t *testing.T) ocispec.Descriptor {
	t.Helper()
	return w.reg.AddSignature("app", w.subject, jws, w.untrusted.Sign(t, w.subject, jws))
}

// policy is a trust policy with one statement "test" of level for scopes,
// trusting the ec-256 root in ca:test (no stores at level skip).
func policy(t *testing.T, level string, scopes ...string) *trustpolicy.Policy {
	t.Helper()
	st := map[string]any{"name": "test", "registryScopes": scopes, "signatureVerification": map[string]any{"level": level}}
	if level != trustpolicy.LevelSkip {
		st["trustStores"] = []string{"ca:test"}
		st["trustedIdentities"] = []string{"*"}
	}
	b, err := json.Marshal(map[string]any{"version": "1.0", "trustPolicies": []any{st}})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := trustpolicy.ParseDocument(b)
	if err != nil {
		t.Fatal(err)
	}
	p, err := trustpolicy.Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// engine is an engine over policy that trusts root, without revocation
// I/O.
func engine(t *testing.T, p *trustpolicy.Policy, root *x509.Certificate) *trustpolicy.Engine {
	t.Helper()
	ref, err := truststore.ParseRef("ca:test")
	if err != nil {
		t.Fatal(err)
	}
	e, err := trustpolicy.New(trustpolicy.Config{
		Policy:     p,
		Stores:     truststore.NewSet(map[truststore.Ref][]*x509.Certificate{ref: {root}}),
		Revocation: revocation.NonRevokableOnly(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// service is a Service with a level policy for scopes (default "*") over
// w's registry.
func (w *world) service(t *testing.T, level string, scopes ...string) *service.Service {
	t.Helper()
	if len(scopes) == 0 {
		scopes = []string{"*"}
	}
	client, err := registry.New(registry.Options{PlainHTTP: true, Credentials: anonymous})
	if err != nil {
		t.Fatal(err)
	}
	s, err := service.New(service.Config{Engine: engine(t, policy(t, level, scopes...), w.signer.Root()), Registry: client, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkOutcome checks a call that must give a report: its verdict after
// tried signatures, and want in its error.
func checkOutcome(t *testing.T, r *trustpolicy.Report, err error, verdict trustpolicy.Verdict, tried int, want []string) {
	t.Helper()
	if err != nil {
		t.Fatalf("error %v, want a report", err)
	}
	checkReport(t, r)
	if r.Verdict != verdict || len(r.Signatures) != tried {
		t.Fatalf("verdict %s after %d signatures, want %s after %d: %s", r.Verdict, len(r.Signatures), verdict, tried, r.Summary())
	}
	for _, s := range want {
		if !strings.Contains(r.Error, s) {
			t.Errorf("error %q lacks %q", r.Error, s)
		}
	}
}

// checkReport checks the invariants of every report.
func checkReport(t *testing.T, r *trustpolicy.Report) {
	t.Helper()
	if r == nil {
		t.Fatal("nil report")
	}
	if r.Schema != trustpolicy.SchemaVersion || r.Warnings == nil {
		t.Errorf("report not finished: %+v", r)
	}
	b, err := json.Marshal(r)
	if err != nil || !json.Valid(b) || bytes.ContainsRune(b, 0x1b) {
		t.Errorf("report JSON: %v %s", err, b)
	}
}

// anonymous never has credentials, so tests never read the developer's
// docker configuration.
func anonymous(context.Context, string) (auth.Credential, error) { return auth.EmptyCredential, nil }
