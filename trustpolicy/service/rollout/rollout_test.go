package rollout_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notaryproject/notation-go"
	nsigner "github.com/notaryproject/notation-go/signer"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/bulk"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/rollout"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

const pkiDir = "../../../testdata/pki"

// testNow is years after the signatures were made: one with a one-hour
// expiry has expired.
var testNow = time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)

func anonymous(context.Context, string) (auth.Credential, error) { return auth.EmptyCredential, nil }

// engine compiles policy over the stores ca:test (the ec-256 root) and
// ca:other (the rsa-2048 root).
func engine(t *testing.T, policy string) *trustpolicy.Engine {
	t.Helper()
	doc, err := trustpolicy.ParseDocument([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	p, err := trustpolicy.Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	stores := map[truststore.Ref][]*x509.Certificate{}
	for name, kt := range map[string]string{"ca:test": "ec-256", "ca:other": "rsa-2048"} {
		ref, err := truststore.ParseRef(name)
		if err != nil {
			t.Fatal(err)
		}
		certs, err := testpki.LoadCertificates(pkiDir + "/" + kt + "/root.crt")
		if err != nil {
			t.Fatal(err)
		}
		stores[ref] = certs
	}
	e, err := trustpolicy.New(trustpolicy.Config{Policy: p, Stores: truststore.NewSet(stores), Revocation: revocation.NonRevokableOnly()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func stmt(name, scope, level, store, identity string) string {
	if level == "skip" {
		return `{"name":"` + name + `","registryScopes":["` + scope + `"],"signatureVerification":{"level":"skip"}}`
	}
	return `{"name":"` + name + `","registryScopes":["` + scope + `"],"signatureVerification":{"level":"` + level + `"},"trustStores":["` + store + `"],"trustedIdentities":["` + identity + `"]}`
}

func policy(stmts ...string) string {
	return `{"version":"1.0","trustPolicies":[` + strings.Join(stmts, ",") + `]}`
}

func TestRollout(t *testing.T) {
	reg := servicetest.NewRegistry(t)
	chain, err := testpki.LoadCertificates(pkiDir + "/ec-256/chain.pem")
	if err != nil {
		t.Fatal(err)
	}
	key, err := testpki.LoadSigner(pkiDir + "/ec-256/leaf.key")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := nsigner.NewGenericSigner(key, chain)
	if err != nil {
		t.Fatal(err)
	}
	push := func(repo, content string, expiry time.Duration) string {
		put := func(mt string, data []byte) ocispec.Descriptor { return reg.PutBlob(mt, data) }
		d := reg.PutManifest(repo, "", ocispec.MediaTypeImageManifest, servicetest.ImageManifest(put, []byte(content)))
		env, _, err := signer.Sign(t.Context(), d, notation.SignerSignOptions{SignatureMediaType: "application/cose", ExpiryDuration: expiry})
		if err != nil {
			t.Fatal(err)
		}
		reg.AddSignature(repo, d, "application/cose", env)
		return reg.Ref(repo + "@" + d.Digest.String())
	}
	idOK := "x509.subject: C=US, ST=WA, O=Notation PKCS11 Test"
	idOther := "x509.subject: C=US, ST=WA, O=Someone Else"
	r := func(repo string) string { return reg.Ref(repo) }
	refs := map[string]string{
		"same":      push("same", "unchanged", 0),
		"identity":  push("identity", "wrong identity", 0),
		"expired":   push("expired", "expired", time.Hour),
		"store":     push("store", "moved store", 0),
		"unscoped":  push("unscoped", "loses its statement", 0),
		"skipped":   push("skipped", "skipped now", 0),
		"unsigned":  reg.Ref("unsigned@" + reg.PutManifest("unsigned", "", ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2}`)).Digest.String()),
		"stillfail": push("stillfail", "fails under both", 0),
	}
	current := engine(t, policy(
		stmt("same", r("same"), "strict", "ca:test", idOK),
		stmt("identity", r("identity"), "audit", "ca:test", idOther),
		stmt("expired", r("expired"), "permissive", "ca:test", idOK),
		stmt("store", r("store"), "strict", "ca:test", idOK),
		stmt("unscoped", r("unscoped"), "strict", "ca:test", idOK),
		stmt("skipped", r("skipped"), "strict", "ca:other", idOK),
		stmt("unsigned", r("unsigned"), "audit", "ca:test", idOK),
		stmt("stillfail", r("stillfail"), "strict", "ca:other", idOK),
	))
	candidate := engine(t, policy(
		stmt("same", r("same"), "strict", "ca:test", idOK),
		stmt("identity", r("identity"), "strict", "ca:test", idOther),
		stmt("expired", r("expired"), "strict", "ca:test", idOK),
		stmt("store", r("store"), "strict", "ca:other", idOK),
		stmt("skipped", r("skipped"), "skip", "", ""),
		stmt("unsigned", r("unsigned"), "audit", "ca:test", idOK),
		stmt("stillfail", r("stillfail"), "strict", "ca:other", idOther),
	))
	client, err := registry.New(registry.Options{PlainHTTP: true, Credentials: anonymous})
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return testNow }
	v := &rollout.Verifier{Open: func(_ context.Context, ref string) (bulk.Source, bulk.Source, error) {
		c := client.WithCache()
		a, err := service.New(service.Config{Engine: current, Registry: c, Now: now})
		if err != nil {
			return bulk.Source{}, bulk.Source{}, err
		}
		b, err := service.New(service.Config{Engine: candidate, Registry: c, Now: now})
		return bulk.Source{Service: a, Client: c, Reference: ref}, bulk.Source{Service: b, Client: c, Reference: ref}, err
	}}

	order := []string{"same", "identity", "expired", "store", "unscoped", "skipped", "unsigned", "stillfail"}
	var inputs []bulk.Input
	for _, k := range order {
		inputs = append(inputs, bulk.Input{Reference: refs[k], Source: k})
	}
	col := rollout.NewCollector()
	err = bulk.Each(t.Context(), inputs, v.Verify, bulk.Options{Jobs: 3}, nil, func(o rollout.Outcome) error {
		col.Add(o)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := col.Report()
	want := map[string]struct {
		check     string
		cur, cand trustpolicy.Verdict
		blocked   bool
	}{
		"identity": {rollout.GroupIdentity, "verified", "failed", true},
		"expired":  {string(trustpolicy.TypeExpiry), "verified", "failed", true},
		"store":    {string(trustpolicy.TypeAuthenticity), "verified", "failed", true},
		"unscoped": {rollout.GroupPolicy, "verified", "failed", true},
		"skipped":  {rollout.GroupPolicy, "failed", "skipped", false},
	}
	got := map[string]rollout.Change{}
	var groups []string
	for _, g := range rep.Groups {
		groups = append(groups, g.Check)
		for _, c := range g.Changes {
			if c.Check != g.Check {
				t.Errorf("%s filed under %s", c.Check, g.Check)
			}
			got[c.Source] = c
		}
	}
	for k, w := range want {
		c, ok := got[k]
		if !ok || c.Check != w.check || c.Current != w.cur || c.Candidate != w.cand || c.NewlyBlocked != w.blocked || c.Reference != refs[k] {
			t.Errorf("%s: change %+v, want %+v", k, c, w)
		}
		if w.blocked && (c.Reason == "" || !strings.HasPrefix(c.CandidateBrief, "failed: ")) {
			t.Errorf("%s: reason %q, candidate brief %q", k, c.Reason, c.CandidateBrief)
		}
	}
	if len(got) != len(want) || rep.Total != len(order) || rep.Changed != 5 || rep.NewlyBlocked != 4 || rep.NewlyAllowed != 1 || rep.ExitCode != 1 {
		t.Errorf("report %+v", rep)
	}
	// Groups that block come first; the newly allowed policy group (one
	// blocked too) sorts by name among equals.
	if !slices.Equal(groups, []string{"authenticity", "expiry", "identity", "policy"}) {
		t.Errorf("groups %q", groups)
	}
	if b, err := json.Marshal(rep); err != nil || !strings.Contains(string(b), `"schema":"`+rollout.Schema+`"`) {
		t.Errorf("JSON: %v %s", err, b)
	}
}

// TestRolloutFetchesOnce: the second policy's verification is served by
// the artifact's cache: the registry sees the requests of one.
func TestRolloutFetchesOnce(t *testing.T) {
	reg := servicetest.NewRegistry(t)
	s := servicetest.NewSigner(t, pkiDir, "ec-256")
	d := reg.PutManifest("app", "v1", ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"x":1}`))
	reg.AddSignature("app", d, "application/cose", s.Sign(t, d, "application/cose"))
	e := engine(t, policy(stmt("all", "*", "strict", "ca:test", "*")))
	client, err := registry.New(registry.Options{PlainHTTP: true, Credentials: anonymous})
	if err != nil {
		t.Fatal(err)
	}
	open := func(cache bool) func(context.Context, string) (bulk.Source, bulk.Source, error) {
		return func(_ context.Context, ref string) (bulk.Source, bulk.Source, error) {
			c := client
			if cache {
				c = client.WithCache()
			}
			svc, err := service.New(service.Config{Engine: e, Registry: c, Now: func() time.Time { return testNow }})
			return bulk.Source{Service: svc, Client: c, Reference: ref}, bulk.Source{Service: svc, Client: c, Reference: ref}, err
		}
	}
	in := bulk.Input{Reference: reg.Ref("app:v1")}
	(&rollout.Verifier{Open: open(false)}).Verify(t.Context(), in) // probes the host's referrers API once
	warm := len(reg.Requests())
	(&rollout.Verifier{Open: open(false)}).Verify(t.Context(), in)
	uncached := len(reg.Requests()) - warm
	o := (&rollout.Verifier{Open: open(true)}).Verify(t.Context(), in)
	if cached := len(reg.Requests()) - warm - uncached; cached*2 != uncached || o.Current.Verdict != trustpolicy.VerdictVerified || o.Candidate.Verdict != trustpolicy.VerdictVerified {
		t.Errorf("%d requests with the cache, %d without; verdicts %s %s", cached, uncached, o.Current.Verdict, o.Candidate.Verdict)
	}
}
