package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// statusChecker answers every non-root certificate with status.
func statusChecker(status revocation.Status) revocation.Checker {
	return revocation.CheckerFunc(func(_ context.Context, req revocation.Request) ([]revocation.Result, error) {
		out := make([]revocation.Result, len(req.Chain))
		for i := range out {
			out[i] = revocation.Result{Status: revocation.StatusNonRevokable}
			if i < len(req.Chain)-1 {
				out[i] = revocation.Result{Status: status, Method: revocation.MethodCRL, URL: "http://127.0.0.1:1/ca.crl", Detail: "connection refused"}
			}
		}
		return out, nil
	})
}

func TestDoctorBrokenLinks(t *testing.T) {
	mod := fakeModule(t)
	leaf := loadCerts(t, "ec-256/chain.pem")[0]
	boom := errors.New("boom")
	good := func(t *testing.T) *fakeToken { return goodToken(t, "ec-256", true) }
	// isErr is a check's error that is target.
	isErr := func(target error) func(Check) bool { return func(c Check) bool { return errors.Is(c.Err, target) } }
	revoked := func(status revocation.Status) func(Check) bool {
		return func(c Check) bool {
			var re *RevocationError
			return errors.As(c.Err, &re) && re.Result.Status == status && re.Subject == leaf.Subject.String()
		}
	}
	cases := []struct {
		name    string
		tok     func(t *testing.T) *fakeToken
		env     env
		keyID   string
		now     time.Time
		checker revocation.Checker
		failed  string           // "" for a healthy key
		want    func(Check) bool // holds for the failed (or last warned) check
	}{
		{name: "healthy", tok: good, failed: ""},
		{name: "bad URI", keyID: "pkcs11:token=a;serial=b;object=k", failed: CheckConfig, want: isErr(pkcs11.ErrInvalidURI)},
		{name: "module", tok: func(t *testing.T) *fakeToken {
			tk := good(t)
			tk.OpenErr = pkcs11.ErrModule
			return tk
		}, failed: CheckModule, want: isErr(pkcs11.ErrModule)},
		{name: "token", keyID: "pkcs11:token=other;object=signing-key", tok: good, failed: CheckToken, want: isErr(pkcs11.ErrTokenNotFound)},
		{name: "no PIN", env: env{ModuleEnv: mod}, tok: good, failed: CheckPIN, want: isErr(pkcs11.ErrNoPIN)},
		{name: "wrong PIN", env: env{ModuleEnv: mod, pkcs11.PINEnv: "wrong"}, tok: good, failed: CheckPIN, want: isErr(pkcs11.ErrLogin)},
		{name: "key", keyID: "pkcs11:token=fake-token;object=nope", tok: good, failed: CheckKey, want: isErr(pkcs11.ErrKeyNotFound)},
		{name: "unsupported key type", tok: func(t *testing.T) *fakeToken { return badToken(t, "rsa-1024") }, failed: CheckKey, want: isErr(pki.ErrUnsupportedKey)},
		{name: "no certificate", tok: func(t *testing.T) *fakeToken { return goodToken(t, "ec-256", false) }, failed: CheckCertificate, want: isErr(pkcs11.ErrCertificateNotFound)},
		{name: "certificate of another key", tok: func(t *testing.T) *fakeToken {
			tk := goodToken(t, "ec-256", false)
			tk.Certs = []fakeCert{{fakeKeyID(), loadCerts(t, "ec-384/chain.pem")[0]}}
			return tk
		}, failed: CheckMatch, want: isErr(pki.ErrCertificateMismatch)},
		{name: "incomplete chain", tok: func(t *testing.T) *fakeToken {
			tk := good(t)
			tk.Certs = tk.Certs[:1]
			return tk
		}, failed: CheckChain, want: isErr(pki.ErrIncompleteChain)},
		{name: "expired", now: leaf.NotAfter.Add(time.Hour), tok: good, failed: CheckChain, want: func(c Check) bool {
			var ce *pki.ChainError
			return errors.As(c.Err, &ce) && hasRule(c.Findings, pki.RuleExpired) && len(c.Findings) == len(ce.Findings)
		}},
		{name: "near expiry warns", now: leaf.NotAfter.Add(-10 * 24 * time.Hour), tok: good, failed: "", want: func(c Check) bool {
			return c.Name == CheckExpiry && c.Status == StatusWarn
		}},
		{name: "revoked", checker: statusChecker(revocation.StatusRevoked), tok: good, failed: CheckRevocation, want: revoked(revocation.StatusRevoked)},
		{name: "endpoint down", checker: statusChecker(revocation.StatusUnknown), tok: good, failed: CheckRevocation, want: revoked(revocation.StatusUnknown)},
		{name: "checker error", checker: revocation.CheckerFunc(func(context.Context, revocation.Request) ([]revocation.Result, error) {
			return nil, boom
		}), tok: good, failed: CheckRevocation, want: isErr(boom)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := &fakeBackend{t: t}
			if c.tok != nil {
				b.tok = c.tok(t)
			} else {
				b.forbid = true
			}
			e := c.env
			if e == nil {
				e = stdEnv(mod)
			}
			now := c.now
			if now.IsZero() {
				now = testpki.Epoch()
			}
			p := New(Options{Backend: b, Getenv: e.get, Now: func() time.Time { return now }})
			id := c.keyID
			if id == "" {
				id = keyURI
			}
			checker := c.checker
			if checker == nil {
				checker = revocation.NonRevokableOnly()
			}
			rep := p.Doctor(context.Background(), id, nil, DoctorOptions{KeyName: "rel", Revocation: checker})
			if got := rep.Failed; got != c.failed || rep.OK != (c.failed == "") {
				t.Fatalf("failed %q ok %v, want %q:\n%+v", got, rep.OK, c.failed, rep.Checks)
			}
			if b.unclosed() != 0 {
				t.Fatalf("%d token(s) left open", b.unclosed())
			}
			js, _ := json.Marshal(rep)
			checkNoPIN(t, c.name, string(js))
			if c.want != nil {
				found := false
				for _, ch := range rep.Checks {
					if ch.Status != StatusOK && c.want(ch) {
						found = true
					}
				}
				if !found {
					t.Fatalf("no failed or warned check is the one expected:\n%+v", rep.Checks)
				}
			}
			// Every check before the failed one passed, in DoctorChecks
			// order, and the walk stopped there.
			order := map[string]int{}
			for i, n := range DoctorChecks() {
				order[n] = i
			}
			for i, ch := range rep.Checks {
				if ch.Status == StatusFail && i != len(rep.Checks)-1 {
					t.Fatalf("the walk went on after %s", ch.Name)
				}
				if (ch.Status == StatusFail) != (ch.Err != nil) {
					t.Fatalf("check %s: status %s with error %v", ch.Name, ch.Status, ch.Err)
				}
				if i > 0 && order[ch.Name] < order[rep.Checks[i-1].Name] {
					t.Fatalf("check %s after %s", ch.Name, rep.Checks[i-1].Name)
				}
			}
			if rep.OK {
				want, err := trustpolicy.IdentityFor(leaf)
				if err != nil || rep.Identity != want || !strings.Contains(rep.KeyAddCommand, "notation key add --plugin pkcs11 --id '"+keyURI+"' rel") {
					t.Fatalf("advice: %q (want %q, %v) / %q", rep.Identity, want, err, rep.KeyAddCommand)
				}
				if tp := rep.TrustPolicy; tp == nil || len(tp.TrustPolicies) != 1 || len(tp.TrustPolicies[0].TrustedIdentities) != 1 || tp.TrustPolicies[0].TrustedIdentities[0] != rep.Identity {
					t.Fatalf("trust policy: %+v", rep.TrustPolicy)
				}
			} else if last := rep.Checks[len(rep.Checks)-1]; last.Fix == "" {
				t.Fatalf("the failed check has no fix: %+v", last)
			}
		})
	}
}

func hasRule(fs []pki.Finding, id pki.RuleID) bool {
	for _, f := range fs {
		if f.ID == id {
			return true
		}
	}
	return false
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"release":                  "release",
		"pkcs11:token=a;object=b":  "'pkcs11:token=a;object=b'",
		"it's":                     `'it'\''s'`,
		"":                         "''",
		"audit_log=/var/log/a.log": "audit_log=/var/log/a.log",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestGenerateSignatureAudit: one line per request, success and failure,
// with the fingerprint of the certificate used and no PIN.
func TestGenerateSignatureAudit(t *testing.T) {
	kt := keyTypeOf(t, "ec-256")
	log := filepath.Join(t.TempDir(), "audit.log")
	cfg := map[string]string{ConfigAuditLog: log}
	mod := fakeModule(t)
	b := &fakeBackend{t: t, tok: goodToken(t, "ec-256", true)}
	p := newPlugin(b, stdEnv(mod), nil)
	wantOK[any](t, runPlugin(t, p, "generate-signature", signReq(keyURI, kt, cfg)))
	bad := newPlugin(b, env{ModuleEnv: mod, pkcs11.PINEnv: "wrong"}, nil)
	runPlugin(t, bad, "generate-signature", signReq(keyURI, kt, cfg))
	pinValue := newPlugin(b, stdEnv(mod), nil)
	runPlugin(t, pinValue, "generate-signature", signReq(keyURI+"?pin-value="+testPIN, kt, cfg))

	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	checkNoPIN(t, "audit log", string(data))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines, got %d:\n%s", len(lines), data)
	}
	var recs [3]AuditRecord
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), &recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if recs[0].Outcome != "success" || recs[0].CertificateSHA256 == "" || recs[0].KeySpec != "EC-256" || recs[0].KeyID != keyURI || recs[0].PayloadSHA256 == "" {
		t.Fatalf("success record: %+v", recs[0])
	}
	if _, err := time.Parse(time.RFC3339Nano, recs[0].Time); err != nil || !strings.HasSuffix(recs[0].Time, "Z") {
		t.Fatalf("time %q is not UTC RFC 3339", recs[0].Time)
	}
	if recs[1].Outcome != "failure" || recs[1].ErrorCode != "ACCESS_DENIED" {
		t.Fatalf("failure record: %+v", recs[1])
	}
	if recs[2].Outcome != "failure" || recs[2].KeyID != "" || recs[2].ErrorCode != "VALIDATION_ERROR" {
		t.Fatalf("pin-value record: %+v", recs[2])
	}

	// A log that cannot be written withholds the signature.
	if err := os.Chmod(log, 0o666); err != nil {
		t.Fatal(err)
	}
	wantError(t, runPlugin(t, p, "generate-signature", signReq(keyURI, kt, cfg)), "ERROR", "withheld", "chmod 600")
}
