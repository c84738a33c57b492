package admission

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// TestVerifyKeys: one request with every kind of key; one item per key,
// in order, duplicates included; error set exactly for keys that are not
// admitted; never a systemError.
func TestVerifyKeys(t *testing.T) {
	w := newWorld(t)
	good := w.signed(t, "app", "v1", "good")
	unsigned := w.artifact("app", "unsigned", "unsigned")
	untrusted := w.artifact("app", "untrusted", "untrusted")
	w.reg.AddSignature("app", untrusted, cose, w.untrusted.Sign(t, untrusted, cose))
	_, hs := w.server(t, nil)

	cases := []struct {
		key     string
		verdict string
		admit   bool
		want    string // in the summary
	}{
		{key: good, verdict: "verified", admit: true, want: "verified: "},
		{key: w.reg.Ref("app:v1"), verdict: "verified", admit: true},
		{key: "[default]" + good, verdict: "verified", admit: true},
		{key: w.reg.Ref("app:unsigned"), verdict: "failed", want: "no signature is associated"},
		{key: w.reg.Ref("app@" + unsigned.Digest.String()), verdict: "failed", want: "no signature is associated"},
		{key: w.reg.Ref("app@" + untrusted.Digest.String()), verdict: "failed", want: "failed: "},
		{key: w.reg.Ref("app:missing"), verdict: verdictError, want: "resolving " + w.reg.Ref("app:missing")},
		{key: "Not A Reference", verdict: verdictError, want: `key "Not A Reference"`},
		{key: good, verdict: "verified", admit: true}, // a duplicate
	}
	keys := make([]string, len(cases))
	for i, c := range cases {
		keys[i] = c.key
	}
	code, resp := post(t, hs.URL, keys...)
	if code != http.StatusOK || resp.Response.SystemError != "" || resp.APIVersion != APIVersionV1beta1 || len(resp.Response.Items) != len(cases) {
		t.Fatalf("status %d, response %+v", code, resp)
	}
	for i, c := range cases {
		it := resp.Response.Items[i]
		v := value(t, it)
		if it.Key != c.key || v.Verdict != c.verdict || (it.Error == "") != c.admit || !strings.Contains(v.Summary, c.want) {
			t.Errorf("item %d %q: verdict %q error %q summary %q; want verdict %s, admitted %v, summary with %q", i, c.key, v.Verdict, it.Error, v.Summary, c.verdict, c.admit, c.want)
		}
		if !c.admit && it.Error != v.Summary {
			t.Errorf("item %d: error %q is not the summary %q", i, it.Error, v.Summary)
		}
		if v.Verdict != verdictError {
			var r trustpolicy.Report
			if err := json.Unmarshal(v.Result, &r); err != nil || string(r.Verdict) != v.Verdict || !strings.HasSuffix(r.Reference, "@"+v.Digest) || v.Digest == "" {
				t.Errorf("item %d: result %s (%v) does not match verdict %s digest %s", i, v.Result, err, v.Verdict, v.Digest)
			}
		}
	}
	// The failure summaries carry the fix.
	if it := resp.Response.Items[5]; !strings.Contains(it.Error, "fix: ") {
		t.Errorf("untrusted signer: %q has no fix", it.Error)
	}
}

// TestV1alpha1: the older apiVersion is answered in kind.
func TestV1alpha1(t *testing.T) {
	w := newWorld(t)
	good := w.signed(t, "app", "v1", "good")
	_, hs := w.server(t, nil)
	body := `{"apiVersion":"externaldata.gatekeeper.sh/v1alpha1","kind":"ProviderRequest","request":{"keys":["` + good + `"]}}`
	code, resp := postRaw(t, hs.URL, "application/json", []byte(body))
	if code != http.StatusOK || resp.APIVersion != APIVersionV1alpha1 || len(resp.Response.Items) != 1 || resp.Response.Items[0].Error != "" {
		t.Fatalf("status %d response %+v", code, resp)
	}
}

// TestBadRequests: whole-request faults get a systemError and no items.
func TestBadRequests(t *testing.T) {
	w := newWorld(t)
	_, hs := w.server(t, func(c *Config) { c.MaxKeys = 2; c.MaxBodyBytes = 300 })
	cases := []struct {
		name, contentType, body string
		status                  int
		want                    string
	}{
		{"not json", "application/json", `{`, 400, "not a ProviderRequest in JSON"},
		{"unknown field", "application/json", `{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":[]},"x":1}`, 400, `unknown field \"x\"`},
		{"trailing data", "application/json", `{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":[]}} {}`, 400, "data after the JSON document"},
		{"wrong version", "application/json", `{"apiVersion":"v1","kind":"ProviderRequest","request":{"keys":[]}}`, 400, `apiVersion \"v1\"`},
		{"wrong kind", "application/json", `{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderResponse","request":{"keys":[]}}`, 400, `kind \"ProviderResponse\"`},
		{"too many keys", "application/json", `{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["a","b","c"]}}`, 400, "3 keys, more than the 2 accepted"},
		{"too large", "application/json", `{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["` + strings.Repeat("a", 400) + `"]}}`, 413, "larger than 300 bytes"},
		{"content type", "text/plain", `{}`, 415, "send application/json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, resp := postRaw(t, hs.URL, c.contentType, []byte(c.body))
			raw, _ := json.Marshal(resp.Response.SystemError)
			if code != c.status || len(resp.Response.Items) != 0 || !strings.Contains(string(raw), c.want) {
				t.Errorf("status %d systemError %s; want %d with %q", code, raw, c.status, c.want)
			}
		})
	}
	// Trailing white space is no trailing data.
	code, resp := postRaw(t, hs.URL, "application/json", []byte(`{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":[]}}`+"\n \n"))
	if code != 200 || resp.Response.SystemError != "" {
		t.Errorf("trailing white space: %d %+v", code, resp)
	}
	resp2, err := http.Get(hs.URL + PathVerify)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusMethodNotAllowed || resp2.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d %q", resp2.StatusCode, resp2.Header.Get("Allow"))
	}
}

// TestResponseEscaped: a key with a bidirectional override comes back
// escaped in the JSON itself (\u202e), never raw.
func TestResponseEscaped(t *testing.T) {
	w := newWorld(t)
	_, hs := w.server(t, nil)
	key := "app\u202e:v1"
	resp, err := http.Post(hs.URL+PathVerify, "application/json", strings.NewReader(`{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["`+key+`"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if textsafe.Has(strings.TrimSuffix(string(b), "\n")) || !strings.Contains(string(b), `\u202e`) {
		t.Errorf("response not escaped: %q", b)
	}
}
