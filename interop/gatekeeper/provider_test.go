package gatekeeper

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/frameworks/constraint/pkg/externaldata"

	"github.com/notation-pkcs11/notation-pkcs11/admission"
)

// TestProviderClient: Gatekeeper's own provider client calls trustpolicy
// serve exactly as Gatekeeper does (TLS 1.3, the caBundle of the Provider
// deploy/tls.sh wrote, Gatekeeper's client certificate), and is refused
// with a caBundle of another CA, without a client certificate, or with a
// client certificate of another CA.
func TestProviderClient(t *testing.T) {
	f := getFixture(t)
	base := f.serve(t)
	w := f.world
	keys := []string{w.Images["signed"], w.Digests["signed"], w.Images["unsigned"], "[prod]" + w.Images["revoked"]}
	resp, status, err := externaldata.DefaultSendRequestToProvider(withDeadline(t), f.providerAt("trustpolicy-client", base), keys, &f.gkPair)
	if err != nil || status != http.StatusOK {
		t.Fatalf("status %d: %v", status, err)
	}
	r := resp.Response
	if r.SystemError != "" || !r.Idempotent || len(r.Items) != len(keys) || resp.Kind != "ProviderResponse" || resp.APIVersion != admission.APIVersionV1beta1 {
		t.Fatalf("%+v", resp)
	}
	for i, want := range []struct {
		verdict, err string
	}{
		{"verified", ""}, {"verified", ""}, {"failed", "no signature is associated"}, {"failed", "revoked"},
	} {
		it := r.Items[i]
		raw, _ := json.Marshal(it.Value)
		var v admission.ItemValue
		if err := json.Unmarshal(raw, &v); err != nil || it.Key != keys[i] || v.Verdict != want.verdict || !strings.Contains(it.Error, want.err) || (want.err == "") != (it.Error == "") {
			t.Errorf("item %d %s: verdict %q error %q (%v); want %s with %q", i, it.Key, v.Verdict, it.Error, err, want.verdict, want.err)
		}
	}

	otherCA, err := os.ReadFile(filepath.Join(f.dir, "other", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	wrongCA := f.providerAt("trustpolicy-wrong-ca", base)
	wrongCA.Spec.CABundle = base64.StdEncoding.EncodeToString(otherCA)
	refused := []struct {
		name string
		call func() error
		want string
	}{
		{"caBundle of another CA", func() error {
			_, _, err := externaldata.DefaultSendRequestToProvider(withDeadline(t), wrongCA, keys[:1], &f.gkPair)
			return err
		}, "certificate signed by unknown authority"},
		{"no client certificate", func() error {
			_, _, err := externaldata.DefaultSendRequestToProvider(withDeadline(t), f.providerAt("trustpolicy-no-cert", base), keys[:1], nil)
			return err
		}, "certificate required"},
		{"client certificate of another CA", func() error {
			other := f.otherPair
			_, _, err := externaldata.DefaultSendRequestToProvider(withDeadline(t), f.providerAt("trustpolicy-other-cert", base), keys[:1], &other)
			return err
		}, "unknown certificate authority"},
	}
	for _, c := range refused {
		if err := c.call(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want refused with %q", c.name, err, c.want)
		}
	}
	// TLS 1.2 is refused too (Gatekeeper never offers it).
	_, err = (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true, Certificates: []tls.Certificate{f.gkPair}}}}).Get(base + "/healthz")
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("TLS 1.2: %v", err)
	}
}
