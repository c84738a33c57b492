package admission

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// TestReload: a changed trust store is a new generation whose verdicts
// replace the cached ones; a policy that fails to load keeps the previous
// generation serving and makes the server not ready, until fixed.
func TestReload(t *testing.T) {
	w := newWorld(t)
	good := w.signed(t, "app", "v1", "good")
	s, hs := w.server(t, nil)
	if code, body := get(t, hs.URL+PathReadyz); code != 200 || !strings.Contains(body, "generation 1") {
		t.Fatalf("readyz %d %q", code, body)
	}
	if _, resp := post(t, hs.URL, good); resp.Response.Items[0].Error != "" {
		t.Fatalf("%+v", resp)
	}
	if s.Changed() {
		t.Fatal("Changed before any change")
	}
	// The trust store now trusts another root only.
	writeConfig(t, w.dir, policyJSON("strict", "*"), w.untrusted.Root())
	if !s.Changed() {
		t.Fatal("a new root.crt is not a change")
	}
	if err := s.Reload(); err != nil || s.Generation() != 2 {
		t.Fatalf("reload: %v, generation %d", err, s.Generation())
	}
	if _, resp := post(t, hs.URL, good); value(t, resp.Response.Items[0]).Verdict != "failed" {
		t.Fatalf("generation 2 answered from generation 1's cache: %+v", resp)
	}

	// A broken policy: generation 2 keeps serving, not ready.
	if err := os.WriteFile(w.paths.Policy, []byte(`{"version":"1.0","trustPolicies":[{"name":"x"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	err := s.Reload()
	var ce *ConfigError
	if !errors.Is(err, ErrConfig) || !errors.As(err, &ce) || !strings.Contains(err.Error(), w.paths.Policy) ||
		ce.Fix() != "trustpolicy lint --policy "+w.paths.Policy+" --truststore "+w.paths.TrustStore {
		t.Fatalf("reload of a broken policy: %v", err)
	}
	if ready, reason := s.Ready(); ready || !strings.Contains(reason, "still serving generation 2") || s.Generation() != 2 {
		t.Errorf("ready %v (%s), generation %d", ready, reason, s.Generation())
	}
	if code, body := get(t, hs.URL+PathReadyz); code != http.StatusServiceUnavailable || !strings.Contains(body, "not ready: the trust policy or trust stores failed to load") {
		t.Errorf("readyz %d %q", code, body)
	}
	if _, resp := post(t, hs.URL, good); resp.Response.SystemError != "" || value(t, resp.Response.Items[0]).Verdict != "failed" {
		t.Errorf("not ready still answers with the previous generation: %+v", resp)
	}
	for sample, want := range map[string]string{
		"trustpolicy_serve_ready":                          "0",
		"trustpolicy_serve_generation":                     "2",
		`trustpolicy_serve_reloads_total{result="failed"}`: "1",
		`trustpolicy_serve_reloads_total{result="ok"}`:     "2",
	} {
		if got := metricValue(t, hs.URL, sample); got != want {
			t.Errorf("%s = %s; want %s", sample, got, want)
		}
	}
	writeConfig(t, w.dir, policyJSON("strict", "*"), w.signer.Root())
	if err := s.Reload(); err != nil || s.Generation() != 3 {
		t.Fatalf("reload after the fix: %v", err)
	}
	if ready, _ := s.Ready(); !ready {
		t.Error("not ready after a good reload")
	}
}

// TestNotReadyBeforeLoad: before the first load nothing is answered.
func TestNotReadyBeforeLoad(t *testing.T) {
	w := newWorld(t)
	s, _ := w.server(t, nil)
	s2, err := New(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := newHTTPServer(t, s2)
	if code, body := get(t, hs+PathReadyz); code != http.StatusServiceUnavailable || !strings.Contains(body, "has not been loaded yet") {
		t.Errorf("readyz %d %q", code, body)
	}
	if code, body := get(t, hs+PathHealthz); code != http.StatusOK || body != "ok\n" {
		t.Errorf("healthz %d %q", code, body)
	}
	code, resp := post(t, hs, "nginx")
	if code != http.StatusServiceUnavailable || !strings.Contains(resp.Response.SystemError, "not ready") {
		t.Errorf("%d %+v", code, resp)
	}
}

// TestWatch: Watch reloads on a change by itself.
func TestWatch(t *testing.T) {
	w := newWorld(t)
	s, _ := w.server(t, func(c *Config) { c.ReloadInterval = time.Millisecond })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { s.Watch(ctx); close(done) }()
	writeConfig(t, w.dir, policyJSON("permissive", "*"), w.signer.Root())
	for s.Generation() != 2 {
		runtime.Gosched()
	}
	cancel()
	<-done
}

// volume lays out dir as the kubelet lays out a ConfigMap volume holding
// trustpolicy.json and x509/ca/test/root.crt (items with paths), with the
// files of version: dir/..VERSION/{trustpolicy.json,x509/...},
// dir/..data -> ..VERSION (swapped atomically by a rename, as the kubelet
// does), dir/trustpolicy.json -> ..data/trustpolicy.json, dir/x509 ->
// ..data/x509.
func volume(t *testing.T, dir, version, policy string, write func(store string)) {
	t.Helper()
	snap := filepath.Join(dir, ".."+version)
	store := filepath.Join(snap, "x509", "ca", "test")
	if err := os.MkdirAll(store, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(snap, "trustpolicy.json"), []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	write(store)
	tmp := filepath.Join(dir, "..data_tmp")
	must(t, os.Symlink(".."+version, tmp))
	must(t, os.Rename(tmp, filepath.Join(dir, dataLink)))
	for _, name := range []string{"trustpolicy.json", "x509"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			must(t, os.Symlink(filepath.Join(dataLink, name), filepath.Join(dir, name)))
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestKubernetesVolume: the ..data swap is followed, one version at a
// time, while notation's symlink rules still hold inside it.
func TestKubernetesVolume(t *testing.T) {
	w := newWorld(t)
	good := w.signed(t, "app", "v1", "good")
	mount := t.TempDir()
	w.paths = trustpolicy.Paths{Policy: filepath.Join(mount, "trustpolicy.json"), TrustStore: mount}
	root := func(pem []byte) func(string) {
		return func(store string) { must(t, os.WriteFile(filepath.Join(store, "root.crt"), pem, 0o644)) }
	}
	volume(t, mount, "2026_01_01_00_00_00.1", policyJSON("strict", "*"), root(pemCert(w.signer.Root())))
	// Without the explicit ..data step the symlinked policy file is
	// refused, as notation refuses it.
	if _, _, err := trustpolicy.LintFile(w.paths.Policy); err == nil {
		t.Fatal("the volume's symlinked policy file loads without the ..data step")
	}
	s, hs := w.server(t, nil)
	if _, resp := post(t, hs.URL, good); resp.Response.Items[0].Error != "" {
		t.Fatalf("%+v", resp)
	}
	// The ConfigMap is updated: another root.
	volume(t, mount, "2026_01_01_00_01_00.2", policyJSON("strict", "*"), root(pemCert(w.untrusted.Root())))
	if !s.Changed() {
		t.Fatal("the ..data swap is not a change")
	}
	must(t, s.Reload())
	if _, resp := post(t, hs.URL, good); value(t, resp.Response.Items[0]).Verdict != "failed" {
		t.Fatalf("after the swap: %+v", resp)
	}
	// A symlink inside a store of the new version is refused as ever.
	volume(t, mount, "2026_01_01_00_02_00.3", policyJSON("strict", "*"), func(store string) {
		must(t, os.Symlink(filepath.Join(mount, "..2026_01_01_00_00_00.1", "x509", "ca", "test", "root.crt"), filepath.Join(store, "root.crt")))
	})
	if err := s.Reload(); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "root.crt") {
		t.Fatalf("a symlink in a store: %v", err)
	}
	if ready, _ := s.Ready(); ready {
		t.Error("ready with a symlink in a store")
	}
	// ..data may only name a sibling ..TIMESTAMP folder.
	for _, target := range []string{"/etc", "../elsewhere", "..", "x509"} {
		tmp := filepath.Join(mount, "..data_tmp")
		must(t, os.Symlink(target, tmp))
		must(t, os.Rename(tmp, filepath.Join(mount, dataLink)))
		if err := s.Reload(); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "..data") {
			t.Errorf("..data -> %s: %v", target, err)
		}
	}
}
