package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testtsa"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// The leaf of testdata/pki/ec-256 is valid from 2025-01-01 to 2036-01-01;
// its intermediate and root until 2046.
var (
	leafNotAfter = time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)
	afterExpiry  = leafNotAfter.Add(48 * time.Hour)
)

// oursAt runs this command in-process at the verification time now.
func (w *e2eWorld) oursAt(t *testing.T, now time.Time, args ...string) (int, *trustpolicy.Report, string) {
	t.Helper()
	code, out, errOut := runWithConfig(context.Background(), w.notation.ConfigDir(), func() time.Time { return now }, append(args, "--output", "json")...)
	var rep trustpolicy.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json output: %v\n%s%s", err, out, errOut)
	}
	return code, &rep, errOut
}

func writePEM(t *testing.T, path string, der []byte) string {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// lastSignature returns the newest signature's result of a one-signature
// artifact.
func onlySignature(t *testing.T, rep *trustpolicy.Report) *trustpolicy.Result {
	t.Helper()
	if len(rep.Signatures) != 1 {
		t.Fatalf("%d signatures in the report, want 1: %+v", len(rep.Signatures), rep)
	}
	return rep.Signatures[0].Result
}

// TestE2ETimestamps signs through the plugin with the real notation CLI and
// `--timestamp-url` pointing at RFC 3161 authorities on 127.0.0.1: the
// OpenSSL TSA (openssl ts -reply, real time) and the in-process test TSA with
// a skewed clock. notation verify and this command must agree today; this
// command must also rescue an expired signing certificate with a valid
// timestamp, and reject timestamps outside the certificate's validity.
func TestE2ETimestamps(t *testing.T) {
	tools := e2e.ToolsT(t)
	signer := e2e.NewPluginSignerT(t, tools, "ts-e2e-Pin-9034")
	w := &e2eWorld{tools: tools, reg: e2e.StartRegistryT(t, tools), notation: signer.Notation}
	uri := signer.ImportKey(t, filepath.Join(testPKI, "ec-256", "leaf.key"), "ec-256", []byte{0x40, 0x01})
	chain := filepath.Join(testPKI, "ec-256", "chain.pem")
	if err := w.notation.AddCert("ca", "pkcs11", filepath.Join(testPKI, "ec-256", "root.crt")); err != nil {
		t.Fatal(err)
	}

	osslTSA := e2e.StartTSAT(t)
	dir := t.TempDir()
	// The in-process TSA, its clock set per case.
	var clock time.Time
	goTSA, err := testtsa.New(testtsa.Options{Clock: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(goTSA) // 127.0.0.1
	t.Cleanup(srv.Close)
	goRoot := writePEM(t, filepath.Join(dir, "testtsa-root.crt"), goTSA.Root().Raw)
	osslRoot := writePEM(t, filepath.Join(dir, "openssl-tsa-root.crt"), osslTSA.Root().Raw)
	for _, p := range []string{goRoot, osslRoot} {
		if err := w.notation.AddCert("tsa", "stamps", p); err != nil {
			t.Fatal(err)
		}
	}
	sv := func(level, verifyTimestamp string) map[string]any {
		s := stmt("p", []string{"*"}, level, []string{"ca:pkcs11", "tsa:stamps"}, []string{"*"})
		if verifyTimestamp != "" {
			s["signatureVerification"].(map[string]any)["verifyTimestamp"] = verifyTimestamp
		}
		return policyDoc(s)
	}
	push := func(t *testing.T, name string) string {
		repo := w.reg.Ref("ts/" + name)
		return repo + "@" + e2e.PushT(t, tools, repo+":v1", []byte("timestamped "+name))
	}

	for _, format := range []string{"cose", "jws"} {
		t.Run("openssl/"+format, func(t *testing.T) {
			ref := push(t, "openssl-"+format)
			signer.Sign(t, uri, chain, format, ref, "--timestamp-url", osslTSA.URL(), "--timestamp-root-cert", osslRoot)
			if err := w.notation.WriteTrustPolicy(sv("strict", "")); err != nil {
				t.Fatal(err)
			}
			if ok, out := w.notationVerify(t, ref); !ok {
				t.Fatalf("notation verify failed: %s", out)
			}
			code, rep, errOut := w.oursAt(t, time.Now(), "verify", "--plain-http", ref)
			if code != exitVerified {
				t.Fatalf("today: exit %d, %s %s", code, rep.Error, errOut)
			}
			r := onlySignature(t, rep)
			if c := r.Check(trustpolicy.TypeAuthenticTimestamp); c.Outcome != trustpolicy.OutcomePassed || r.Timestamp == nil {
				t.Errorf("authentic timestamp %+v, timestamp %+v: want passed and the TSA's time reported", c, r.Timestamp)
			}
			// After the leaf expired, the timestamp proves it signed in time.
			for _, at := range []time.Time{afterExpiry, time.Date(2045, 6, 1, 0, 0, 0, 0, time.UTC)} {
				code, rep, _ = w.oursAt(t, at, "verify", "--plain-http", ref)
				if code != exitVerified {
					t.Errorf("at %s: exit %d (%s), want the expired leaf rescued by the timestamp", at.Format(time.DateOnly), code, rep.Error)
				}
			}
			// With verifyTimestamp afterCertExpiry the timestamp is not
			// needed today, and still rescues later.
			if err := w.notation.WriteTrustPolicy(sv("strict", "afterCertExpiry")); err != nil {
				t.Fatal(err)
			}
			if ok, out := w.notationVerify(t, ref); !ok {
				t.Fatalf("notation verify (afterCertExpiry) failed: %s", out)
			}
			for _, at := range []time.Time{time.Now(), afterExpiry} {
				if code, rep, _ = w.oursAt(t, at, "verify", "--plain-http", ref); code != exitVerified {
					t.Errorf("afterCertExpiry at %s: exit %d (%s)", at.Format(time.DateOnly), code, rep.Error)
				}
			}
		})
	}

	t.Run("no timestamp", func(t *testing.T) {
		ref := push(t, "none")
		signer.Sign(t, uri, chain, "cose", ref)
		// A policy that lists a tsa store requires a timestamp: both reject.
		if err := w.notation.WriteTrustPolicy(sv("strict", "")); err != nil {
			t.Fatal(err)
		}
		ok, out := w.notationVerify(t, ref)
		code, rep, _ := w.oursAt(t, time.Now(), "verify", "--plain-http", ref)
		if ok || code != exitFailed || onlySignature(t, rep).Check(trustpolicy.TypeAuthenticTimestamp).Outcome != trustpolicy.OutcomeFailed {
			t.Fatalf("tsa store listed: notation verify passed=%v, ours exit %d (%s): both must reject at authentic timestamp\nnotation: %s", ok, code, rep.Error, out)
		}
		// Without a tsa store the signature passes while the leaf is valid
		// and fails once it expired.
		noTSA := policyDoc(stmt("p", []string{"*"}, "strict", []string{"ca:pkcs11"}, []string{"*"}))
		if err := w.notation.WriteTrustPolicy(noTSA); err != nil {
			t.Fatal(err)
		}
		if ok, out := w.notationVerify(t, ref); !ok {
			t.Fatalf("notation verify failed: %s", out)
		}
		if code, rep, _ := w.oursAt(t, time.Now(), "verify", "--plain-http", ref); code != exitVerified {
			t.Fatalf("today: exit %d (%s)", code, rep.Error)
		}
		code, rep, _ = w.oursAt(t, afterExpiry, "verify", "--plain-http", ref)
		r := onlySignature(t, rep)
		if code != exitFailed || r.Check(trustpolicy.TypeAuthenticTimestamp).Outcome != trustpolicy.OutcomeFailed || !strings.Contains(r.Error, "expired") {
			t.Errorf("exit %d, %s: want authentic timestamp failed because the leaf expired", code, r.Error)
		}
		// permissive logs the expired certificate and passes, as notation.
		noTSA["trustPolicies"].([]map[string]any)[0]["signatureVerification"] = map[string]any{"level": "permissive"}
		if err := w.notation.WriteTrustPolicy(noTSA); err != nil {
			t.Fatal(err)
		}
		if code, rep, _ = w.oursAt(t, afterExpiry, "verify", "--plain-http", ref); code != exitVerified {
			t.Errorf("permissive: exit %d (%s), want verified with the failure logged", code, rep.Error)
		}
	})

	// The in-process TSA stamps a time outside the leaf's validity; notation
	// signs (it does not compare the two) and both verifiers reject.
	for _, tc := range []struct {
		name string
		gen  time.Time
	}{
		{"after leaf expiry", leafNotAfter.Add(24 * time.Hour)},
		{"before leaf validity", time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run("outside validity/"+tc.name, func(t *testing.T) {
			clock = tc.gen
			ref := push(t, strings.ReplaceAll(tc.name, " ", "-"))
			signer.Sign(t, uri, chain, "jws", ref, "--timestamp-url", srv.URL, "--timestamp-root-cert", goRoot)
			if err := w.notation.WriteTrustPolicy(sv("strict", "")); err != nil {
				t.Fatal(err)
			}
			ok, out := w.notationVerify(t, ref)
			code, rep, _ := w.oursAt(t, time.Now(), "verify", "--plain-http", ref)
			if ok || code != exitFailed {
				t.Fatalf("notation verify passed=%v, ours exit %d: both must reject\nnotation: %s\nours: %s", ok, code, out, rep.Error)
			}
			r := onlySignature(t, rep)
			if c := r.Check(trustpolicy.TypeAuthenticTimestamp); c.Outcome != trustpolicy.OutcomeFailed {
				t.Errorf("authentic timestamp %+v: want failed", c)
			}
			// audit logs the failure and passes, as notation.
			if err := w.notation.WriteTrustPolicy(sv("audit", "")); err != nil {
				t.Fatal(err)
			}
			ok, out = w.notationVerify(t, ref)
			code, rep, _ = w.oursAt(t, time.Now(), "verify", "--plain-http", ref)
			if !ok || code != exitVerified {
				t.Errorf("audit: notation verify passed=%v, ours exit %d (%s): both must pass\nnotation: %s", ok, code, rep.Error, out)
			}
		})
	}
}
