package gatekeeper

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/frameworks/constraint/pkg/apis/externaldata/v1beta1"
	templatesv1 "github.com/open-policy-agent/frameworks/constraint/pkg/apis/templates/v1"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/mutation/match"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// constraint is a TrustPolicyVerified Constraint: its CRD is generated
// from the template, with Gatekeeper's match and enforcementAction and the
// template's (empty) parameters.
type constraint struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		EnforcementAction string         `json:"enforcementAction"`
		Match             match.Match    `json:"match"`
		Parameters        map[string]any `json:"parameters,omitempty"`
	} `json:"spec"`
}

// decodeStrict decodes the one YAML document in path into v: duplicate
// keys, and fields v's type does not have (in exactly that case), are
// errors.
func decodeStrict(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if regexp.MustCompile(`(?m)^---`).Match(raw) {
		return fmt.Errorf("%s: one document per file", path)
	}
	js, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// Kubernetes' own strict decoding: case-sensitive field names, unknown
	// and duplicate fields are errors (encoding/json matches names in any
	// case, so readOnlyRootFileSystem would pass).
	strict, err := kjson.UnmarshalStrict(js, v)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(strict) > 0 {
		return fmt.Errorf("%s: %w", path, errors.Join(strict...))
	}
	return nil
}

// manifests decodes every file of deploy/ into its official type.
type manifests struct {
	namespace  corev1.Namespace
	configMap  corev1.ConfigMap
	deployment appsv1.Deployment
	service    corev1.Service
	pdb        policyv1.PodDisruptionBudget
	provider   v1beta1.Provider
	template   templatesv1.ConstraintTemplate
	audit      constraint
	deny       constraint
}

func readManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{}
	files := map[string]any{
		"namespace.yaml": &m.namespace, "configmap.yaml": &m.configMap, "deployment.yaml": &m.deployment,
		"service.yaml": &m.service, "poddisruptionbudget.yaml": &m.pdb, "provider.yaml": &m.provider,
		"template.yaml": &m.template, "constraint-audit.yaml": &m.audit, "constraint-deny.yaml": &m.deny,
	}
	yamls, err := filepath.Glob(filepath.Join(repoRoot, "deploy", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range yamls {
		if _, ok := files[filepath.Base(p)]; !ok {
			t.Errorf("%s is not checked by this test; add it", p)
		}
	}
	for name, v := range files {
		if err := decodeStrict(filepath.Join(repoRoot, "deploy", name), v); err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

// TestManifests: every manifest decodes strictly into the official API
// types (a typo fails), and the pieces fit together.
func TestManifests(t *testing.T) {
	m := readManifests(t)
	ns := m.namespace.Name
	d := m.deployment
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	checks := []struct {
		ok   bool
		what string
	}{
		{d.Spec.Replicas != nil && *d.Spec.Replicas == 2, "the Deployment has 2 replicas"},
		{d.Namespace == ns && m.service.Namespace == ns && m.configMap.Namespace == ns && m.pdb.Namespace == ns, "everything is in " + ns},
		{pod.SecurityContext != nil && pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot, "the pod runs as non-root"},
		{pod.SecurityContext != nil && pod.SecurityContext.RunAsUser != nil && *pod.SecurityContext.RunAsUser != 0, "the pod's user is not 0"},
		{c.SecurityContext != nil && c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem, "the root file system is read-only"},
		{c.SecurityContext != nil && c.SecurityContext.AllowPrivilegeEscalation != nil && !*c.SecurityContext.AllowPrivilegeEscalation, "no privilege escalation"},
		{c.SecurityContext != nil && c.SecurityContext.Capabilities != nil && slices.Equal(c.SecurityContext.Capabilities.Drop, []corev1.Capability{"ALL"}), "every capability dropped"},
		{!c.Resources.Limits.Cpu().IsZero() && !c.Resources.Limits.Memory().IsZero(), "CPU and memory limits"},
		{c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path == "/readyz" && c.ReadinessProbe.HTTPGet.Scheme == corev1.URISchemeHTTPS, "readiness on https /readyz"},
		{c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path == "/healthz" && c.LivenessProbe.HTTPGet.Scheme == corev1.URISchemeHTTPS, "liveness on https /healthz"},
		{len(c.Args) > 0 && c.Args[0] == "serve", "the container runs trustpolicy serve"},
		{mapsSubset(m.service.Spec.Selector, d.Spec.Template.Labels) && mapsSubset(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels), "the selectors match the pod labels"},
		{m.pdb.Spec.Selector != nil && mapsSubset(m.pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels), "the PodDisruptionBudget selects the pods"},
		{len(m.service.Spec.Ports) == 1 && len(c.Ports) == 1 && m.service.Spec.Ports[0].TargetPort.StrVal == c.Ports[0].Name, "the Service targets the container port"},
		{m.audit.Spec.EnforcementAction == "warn" || m.audit.Spec.EnforcementAction == "dryrun", "the audit Constraint warns or dry-runs"},
		{m.deny.Spec.EnforcementAction == "deny", "the deny Constraint denies"},
		{m.audit.Kind == m.template.Spec.CRD.Spec.Names.Kind && m.deny.Kind == m.template.Spec.CRD.Spec.Names.Kind, "the Constraints are of the template's kind"},
		{strings.ToLower(m.template.Spec.CRD.Spec.Names.Kind) == m.template.Name, "the template's name is its kind in lower case"},
		{m.provider.Spec.Timeout > 2 && m.provider.Spec.CABundle != "", "the Provider allows more than --timeout's 2.5 s and has a caBundle"},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("deploy/: want %s", ch.what)
		}
	}

	// The Provider names the Service, and the template names the Provider.
	u, err := url.Parse(m.provider.Spec.URL)
	if err != nil || u.Scheme != "https" || u.Hostname() != m.service.Name+"."+ns || u.Port() != fmt.Sprint(m.service.Spec.Ports[0].Port) || u.Path != "/v1/verify" {
		t.Errorf("Provider spec.url %s does not name the Service %s.%s:%d/v1/verify", m.provider.Spec.URL, m.service.Name, ns, m.service.Spec.Ports[0].Port)
	}
	rego := templateRego(t, &m.template)
	if !strings.Contains(rego, `"provider": "`+m.provider.Name+`"`) {
		t.Errorf("the template does not call provider %q", m.provider.Name)
	}

	// Every volume mount has its volume; the ConfigMap items exist.
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	for _, vm := range c.VolumeMounts {
		if _, ok := vols[vm.Name]; !ok {
			t.Errorf("volume mount %s has no volume", vm.Name)
		}
	}
	for _, v := range pod.Volumes {
		if v.ConfigMap == nil {
			continue
		}
		if v.ConfigMap.Name != m.configMap.Name {
			t.Errorf("volume %s mounts ConfigMap %s, not %s", v.Name, v.ConfigMap.Name, m.configMap.Name)
		}
		for _, it := range v.ConfigMap.Items {
			if _, ok := m.configMap.Data[it.Key]; !ok {
				t.Errorf("volume %s: ConfigMap %s has no key %s", v.Name, m.configMap.Name, it.Key)
			}
		}
	}

	// Every flag the container passes is a flag of the built command.
	help := serveHelp(t)
	for _, a := range c.Args[1:] {
		name, _, _ := strings.Cut(a, "=")
		if !strings.HasPrefix(name, "--") || !strings.Contains(help, " "+name+" ") {
			t.Errorf("container argument %q: no such flag of trustpolicy serve", a)
		}
	}
}

// TestManifestsTypo: the strict decoding does catch a typo.
func TestManifestsTypo(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "deployment.yaml")
	if err := os.WriteFile(bad, bytes.Replace(raw, []byte("readOnlyRootFilesystem"), []byte("readOnlyRootFileSystem"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := decodeStrict(bad, &d); err == nil || !strings.Contains(err.Error(), "readOnlyRootFileSystem") {
		t.Errorf("a typo decoded: %v", err)
	}
}

// TestTemplateCompiles: Gatekeeper's Rego driver compiles the template, and
// the constraint client accepts both Constraints (the template's schema and
// Gatekeeper's match schema).
func TestTemplateCompiles(t *testing.T) {
	m := readManifests(t)
	c := newPolicyClient(t, m)
	for _, con := range []constraint{m.audit, m.deny} {
		if _, err := c.GetConstraint(toUnstructured(t, con)); err != nil {
			t.Errorf("constraint %s: %v", con.Name, err)
		}
	}
	// A Constraint with a misspelt match field is refused by the schema.
	bad := toUnstructured(t, m.deny)
	if err := unstructured.SetNestedField(bad.Object, "x", "spec", "match", "namespaceSelectr"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddConstraint(context.Background(), bad); err == nil {
		t.Error("a Constraint with spec.match.namespaceSelectr was accepted")
	}
}

func mapsSubset(sub, full map[string]string) bool {
	if len(sub) == 0 {
		return false
	}
	for k, v := range sub {
		if full[k] != v {
			return false
		}
	}
	return true
}

// templateRego is the template's Rego source.
func templateRego(t *testing.T, tmpl *templatesv1.ConstraintTemplate) string {
	t.Helper()
	if len(tmpl.Spec.Targets) != 1 || len(tmpl.Spec.Targets[0].Code) != 1 {
		t.Fatalf("template: want one target with one code block")
	}
	var src struct {
		Rego    string `json:"rego"`
		Version string `json:"version"`
	}
	raw, err := json.Marshal(tmpl.Spec.Targets[0].Code[0].Source.Value)
	if err != nil || json.Unmarshal(raw, &src) != nil || src.Version != "v1" {
		t.Fatalf("template source: %s (%v)", raw, err)
	}
	return src.Rego
}

// serveHelp is "trustpolicy serve -h" of the built command.
func serveHelp(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "trustpolicy")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/trustpolicy")
	cmd.Dir = repoRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	out, err := exec.Command(bin, "serve", "-h").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
