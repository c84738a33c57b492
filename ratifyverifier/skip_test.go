package ratifyverifier

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
)

// TestSkipWithRegistryErrors is the test for issue 13's drift: under a
// statement of level skip for the repository, a registry that fails every
// referrers and manifest fetch gives "skipped" both in the flow of
// trustpolicy verify (service.Verify: exit 0) and in this verifier
// (isSuccess true), because both choose the policy and honour skip before
// any signature is fetched. Before the service, this verifier fetched
// first and failed. A strict statement for every other repository shows
// the selection is by repository.
func TestSkipWithRegistryErrors(t *testing.T) {
	f := newFixture(t, "application/cose")
	config := f.config("strict", func(c map[string]any) {
		c["trustPolicyDoc"] = map[string]any{"version": "1.0", "trustPolicies": []any{
			map[string]any{"name": "skip-app", "registryScopes": []string{f.reg.Ref("app")}, "signatureVerification": map[string]any{"level": "skip"}},
			map[string]any{"name": "others", "registryScopes": []string{"*"}, "signatureVerification": map[string]any{"level": "strict"},
				"trustStores": []string{"ca:test"}, "trustedIdentities": []string{"*"}},
		}}
	})
	// Referrers API, referrers tag schema, signature manifests, envelopes
	// and any GET of a manifest fail; resolving the artifact (HEAD) works.
	f.reg.Tamper(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && r.URL.Path != "/v2/" {
			servicetest.WriteError(w, http.StatusBadRequest, "UNKNOWN", "registry broken")
			return true
		}
		return false
	})
	req, err := ParseRequest(f.env(), f.stdin(t, config))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := NewEngine(req.Config, revocation.NonRevokableOnly())
	if err != nil {
		t.Fatal(err)
	}
	client, err := registry.New(registry.Options{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(service.Config{Engine: eng, Registry: client, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}

	for _, ref := range []string{f.ref(), f.tag()} {
		// trustpolicy verify REF.
		report, err := svc.Verify(t.Context(), ref, service.Options{})
		if err != nil || report.Verdict != trustpolicy.VerdictSkipped || report.Err() != nil || report.Policy.Name != "skip-app" {
			t.Errorf("service.Verify(%s): %+v, %v; want skipped by skip-app", ref, report, err)
		}
		// Ratify.
		resp, perr := runStdin(t, envFor(ref), f.stdin(t, config))
		if perr != nil || !resp.IsSuccess || resp.Extensions.Verdict != trustpolicy.VerdictSkipped || !strings.Contains(resp.Message, `skipped: policy "skip-app" has level skip for `+f.ref()) {
			t.Errorf("Ratify verifier, subject %s: %v %+v; want isSuccess and skipped", ref, perr, resp)
		}
	}
	for _, q := range f.reg.Requests() {
		if strings.HasPrefix(q, http.MethodGet) && q != "GET /v2/" {
			t.Errorf("request %q under skip", q)
		}
	}

	// The registry errors are real: the strict statement fails on them.
	other := f.reg.PutManifest("other", "v1", f.subject.MediaType, []byte("other artifact"))
	f.reg.AddSignature("other", other, f.mediaType, f.signer.Sign(t, other, f.mediaType))
	report, err := svc.Verify(t.Context(), f.reg.Ref("other:v1"), service.Options{})
	if err != nil || report.Verdict != trustpolicy.VerdictFailed || !strings.Contains(report.Error, "registry broken") {
		t.Errorf("strict statement: %+v, %v; want the registry error", report, err)
	}

	// Ratify with a subject by digest does not ask the registry at all.
	f.reg.Close()
	resp, perr := runWith(t, f, config)
	if perr != nil || !resp.IsSuccess || resp.Extensions.Verdict != trustpolicy.VerdictSkipped || resp.Extensions.Reference != f.ref() {
		t.Errorf("registry down: %v %+v; want skipped", perr, resp)
	}
}
