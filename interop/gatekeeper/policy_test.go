package gatekeeper

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/frameworks/constraint/pkg/apis/externaldata/unversioned"
	constraintclient "github.com/open-policy-agent/frameworks/constraint/pkg/client"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/drivers/rego"
	"github.com/open-policy-agent/frameworks/constraint/pkg/externaldata"
	"github.com/open-policy-agent/frameworks/constraint/pkg/types"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/target"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
)

// The label the Constraints select namespaces by.
const enforceLabel = "trustpolicy.notation-pkcs11.dev/enforce"

// policy is Gatekeeper's policy engine with the shipped template and
// Constraints, and its provider cache.
type policy struct {
	client    *constraintclient.Client
	providers *externaldata.ProviderCache
}

// newPolicyClient is the engine Gatekeeper runs: the frameworks constraint
// client with Gatekeeper's Kubernetes target and the Rego driver with
// external data enabled; with certFiles (cert, key), its client
// certificate is presented to providers, as Gatekeeper does with mTLS.
func newPolicyClient(t *testing.T, m *manifests, certFiles ...string) *constraintclient.Client {
	t.Helper()
	return newPolicy(t, m, certFiles...).client
}

func newPolicy(t *testing.T, m *manifests, certFiles ...string) *policy {
	t.Helper()
	p := &policy{providers: externaldata.NewCache()}
	args := []rego.Arg{rego.AddExternalDataProviderCache(p.providers)}
	if len(certFiles) == 2 {
		cw, err := certwatcher.New(certFiles[0], certFiles[1])
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, rego.EnableExternalDataClientAuth(), rego.AddExternalDataClientCertWatcher(cw))
	}
	driver, err := rego.New(args...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := constraintclient.NewClient(constraintclient.Targets(&target.K8sValidationTarget{}), constraintclient.Driver(driver),
		constraintclient.EnforcementPoints("validation.gatekeeper.sh", "audit.gatekeeper.sh"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := m.template.ToVersionless()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.AddTemplate(ctx, tmpl); err != nil {
		t.Fatalf("the template does not compile: %v", err)
	}
	for _, con := range []constraint{m.audit, m.deny} {
		if _, err := c.AddConstraint(ctx, toUnstructured(t, con)); err != nil {
			t.Fatalf("constraint %s: %v", con.Name, err)
		}
	}
	p.client = c
	return p
}

func toUnstructured(t *testing.T, v any) *unstructured.Unstructured {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw); err != nil {
		t.Fatal(err)
	}
	return u
}

// decision is what Gatekeeper's webhook makes of the results: deny
// messages (enforcementAction deny) and warnings (warn); dryrun results
// are only reported (webhook/policy.go getValidationMessages).
type decision struct {
	denied, warnings, dryrun []string
}

func decide(res []*types.Result) decision {
	var d decision
	for _, r := range res {
		switch r.EnforcementAction {
		case "deny":
			d.denied = append(d.denied, r.Msg)
		case "warn":
			d.warnings = append(d.warnings, r.Msg)
		case "dryrun":
			d.dryrun = append(d.dryrun, r.Msg)
		}
	}
	return d
}

// admit reviews the creation of obj (a Pod or a workload) in namespace ns
// (labelled enforce=mode) as Gatekeeper's validating webhook does.
func (p *policy) admit(t *testing.T, ns, mode string, obj map[string]any) decision {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	kind := obj["kind"].(string)
	group, version := "", "v1"
	if gv := obj["apiVersion"].(string); strings.Contains(gv, "/") {
		group, version, _ = strings.Cut(gv, "/")
	}
	req := &admissionv1.AdmissionRequest{
		UID:       "1",
		Kind:      metav1.GroupVersionKind{Group: group, Version: version, Kind: kind},
		Resource:  metav1.GroupVersionResource{Group: group, Version: version, Resource: strings.ToLower(kind) + "s"},
		Namespace: ns,
		Name:      obj["metadata"].(map[string]any)["name"].(string),
		Operation: admissionv1.Create,
		Object:    runtime.RawExtension{Raw: raw},
	}
	review := &target.AugmentedReview{AdmissionRequest: req, Namespace: namespace(ns, mode), IsAdmission: true, Source: "Original"}
	resp, err := p.client.Review(context.Background(), review)
	if err != nil {
		t.Fatal(err)
	}
	return decide(resp.Results())
}

func namespace(name, mode string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{enforceLabel: mode}}}
}

func podOf(name string, images ...string) map[string]any {
	var cs []any
	for i, img := range images {
		cs = append(cs, map[string]any{"name": "c" + string(rune('0'+i)), "image": img})
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": name}, "spec": map[string]any{"containers": cs}}
}

// TestPolicyEngine: Gatekeeper's policy engine with the shipped template
// and Constraints, asking trustpolicy serve about real images: signed is
// admitted; unsigned, untrusted root, wrong identity and revoked are
// denied with the provider's summary in the message; a provider that is
// down or times out denies (fail closed); in an audit namespace the same
// images are reported, not denied.
func TestPolicyEngine(t *testing.T) {
	f := getFixture(t)
	m := readManifests(t)
	base := f.serve(t)
	p := newPolicy(t, m, f.gkCert, f.gkKey)
	setProvider := func(pr *unversioned.Provider) {
		t.Helper()
		pr.Name = "trustpolicy"
		if err := p.providers.Upsert(pr); err != nil {
			t.Fatal(err)
		}
	}
	setProvider(f.providerAt("trustpolicy", base))
	w := f.world

	cases := []struct {
		image string
		want  string // in the deny message; "" admits
	}{
		{w.Images["signed"], ""},
		{w.Digests["signed"], ""},
		{w.Images["unsigned"], "no signature is associated"},
		{w.Images["untrusted"], "authenticity"},
		{w.Images["wrong-identity"], "O=Someone Else"},
		{w.Images["revoked"], "revoked"},
	}
	for _, c := range cases {
		t.Run("deny "+c.image, func(t *testing.T) {
			d := p.admit(t, "prod", "deny", podOf("app", c.image))
			switch {
			case c.want == "" && len(d.denied)+len(d.warnings) > 0:
				t.Errorf("a signed image was not admitted: %q %q", d.denied, d.warnings)
			case c.want != "" && (len(d.denied) != 1 || !strings.Contains(d.denied[0], "image "+c.image+" is not admitted: failed: ") || !strings.Contains(d.denied[0], c.want)):
				t.Errorf("denied %q; want one message with the provider's summary and %q", d.denied, c.want)
			}
			if c.want != "" {
				t.Logf("denied: %s", d.denied)
			}
		})
		t.Run("audit "+c.image, func(t *testing.T) {
			d := p.admit(t, "staging", "audit", podOf("app", c.image))
			if len(d.denied) != 0 || (c.want != "") != (len(d.warnings) == 1) {
				t.Errorf("audit: denied %q warnings %q", d.denied, d.warnings)
			}
		})
	}
	t.Run("deployment", func(t *testing.T) {
		dep := map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web"},
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
				"initContainers": []any{map[string]any{"name": "init", "image": w.Images["signed"]}},
				"containers":     []any{map[string]any{"name": "web", "image": w.Images["unsigned"]}},
			}}}}
		if d := p.admit(t, "prod", "deny", dep); len(d.denied) != 1 || !strings.Contains(d.denied[0], w.Images["unsigned"]) {
			t.Errorf("a Deployment with an unsigned image: denied %q", d.denied)
		}
	})
	t.Run("unlabelled namespace", func(t *testing.T) {
		if d := p.admit(t, "kube-system", "", podOf("app", w.Images["unsigned"])); len(d.denied)+len(d.warnings) != 0 {
			t.Errorf("a namespace without the label is enforced: %+v", d)
		}
	})

	// Fail closed: a provider that is down, and one that never answers
	// within the Provider's timeout.
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "https://" + down.Addr().String()
	down.Close()
	pair, err := tls.LoadX509KeyPair(filepath.Join(f.tls, "tls.crt"), filepath.Join(f.tls, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	hang := make(chan struct{})
	stuck := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hang }))
	stuck.TLS = &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{pair}}
	stuck.StartTLS()
	t.Cleanup(func() { close(hang); stuck.Close() })
	for _, c := range []struct{ name, url string }{{"provider down", downURL}, {"provider timed out", stuck.URL}} {
		t.Run(c.name, func(t *testing.T) {
			pr := f.providerAt("trustpolicy", c.url)
			pr.Spec.Timeout = 1
			setProvider(pr)
			d := p.admit(t, "prod", "deny", podOf("app", w.Images["signed"]))
			if len(d.denied) != 1 || !strings.Contains(d.denied[0], "failed closed") {
				t.Errorf("%s: denied %q; want a fail-closed denial", c.name, d.denied)
			}
			if d := p.admit(t, "staging", "audit", podOf("app", w.Images["signed"])); len(d.denied) != 0 || len(d.warnings) != 1 {
				t.Errorf("%s in audit: %+v", c.name, d)
			}
		})
	}
	setProvider(f.providerAt("trustpolicy", base))

	// Audit (Gatekeeper's audit reviews existing objects, not admission
	// requests): a dryrun Constraint reports and never denies.
	t.Run("audit dryrun", func(t *testing.T) {
		m2 := readManifests(t)
		m2.audit.Spec.EnforcementAction = "dryrun"
		p2 := newPolicy(t, m2, f.gkCert, f.gkKey)
		pr := f.providerAt("trustpolicy", base)
		if err := p2.providers.Upsert(pr); err != nil {
			t.Fatal(err)
		}
		obj := toUnstructured(t, podOf("old", w.Images["revoked"]))
		obj.SetNamespace("staging")
		resp, err := p2.client.Review(context.Background(), &target.AugmentedUnstructured{Object: *obj, Namespace: namespace("staging", "audit"), Source: "Original"})
		if err != nil {
			t.Fatal(err)
		}
		d := decide(resp.Results())
		if len(d.denied)+len(d.warnings) != 0 || len(d.dryrun) != 1 || !strings.Contains(d.dryrun[0], "revoked") {
			t.Errorf("audit of a revoked image under dryrun: %+v", d)
		}
	})
}
