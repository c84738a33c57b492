//go:build unix

package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

// opencryptoki end to end (issue 16): Debian's opencryptoki 3.8, its soft
// token behind pkcsslotd, set up without a prompt by
// internal/e2e.StartOpencryptokiT (C_InitToken and C_InitPIN through the
// PKCS#11 API). RSA only: the 3.8 soft token has no EC.

const ockPIN = "ock-3391" // opencryptoki PINs have 4 to 8 characters

// TestE2EOpencryptoki: token list, key generate (EC refused: no EC
// mechanisms), then RSA-2048 and RSA-3072 keys made with key generate:
// key list, csr (PKCS #1 v1.5: the token has only the raw CKM_RSA_PKCS, the
// plugin hashes), cert import, doctor naming the PSS mechanism, notation
// sign COSE and JWS, notation verify and trustpolicy verify.
func TestE2EOpencryptoki(t *testing.T) {
	o := e2e.StartOpencryptokiT(t, ockPIN)
	w := newTokWorld(t, pluginBinary(t), o.Module(), e2e.OpencryptokiTestLabel, ockPIN)
	tok := "pkcs11:token=" + e2e.OpencryptokiTestLabel
	tl := w.human(t, 0, "token", "list", "--output", "json")
	if !strings.Contains(tl.Stdout, `"label": "`+e2e.OpencryptokiTestLabel+`"`) || !strings.Contains(tl.Stdout, `"model": "IBM SoftTok"`) {
		t.Fatalf("token list on opencryptoki:\n%s", tl.Stdout)
	}
	ec := w.human(t, 1, "key", "generate", "--token", tok, "--type", "ec-256", "--label", "no-ec")
	if !strings.Contains(ec.Stderr, "CKR_MECHANISM_INVALID") {
		t.Fatalf("key generate ec-256 on opencryptoki 3.8: %+v", ec)
	}

	s := w.newSigner(t)
	for _, c := range []struct{ keyType, spec, mechanism string }{
		{"rsa-2048", "RSA-2048", "CKM_SHA256_RSA_PKCS_PSS"},
		{"rsa-3072", "RSA-3072", "CKM_SHA384_RSA_PKCS_PSS"},
	} {
		t.Run(c.keyType, func(t *testing.T) {
			label := "ock-" + c.keyType
			r := w.human(t, 0, "key", "generate", "--token", tok, "--type", c.keyType, "--label", label, "--output", "json")
			var gen struct{ URI, KeySpec string }
			if err := json.Unmarshal([]byte(r.Stdout), &gen); err != nil || gen.KeySpec != c.spec || !strings.Contains(gen.URI, "object="+label) {
				t.Fatalf("key generate: %v\n%s", err, r.Stdout)
			}
			kl := w.human(t, 0, "key", "list", "--token", tok, "--output", "json")
			if !strings.Contains(kl.Stdout, `"label": "`+label+`"`) {
				t.Fatalf("key list does not show %s:\n%s", label, kl.Stdout)
			}
			w.certify(t, gen.URI, label)
			w.doctorMechanism(t, gen.URI, c.mechanism)
			s.signAndVerify(t, gen.URI, label)
		})
	}
	t.Run("daemon stopped", func(t *testing.T) { opencryptokiDaemonStopped(t, o, w) })
}

// opencryptokiDaemonStopped, the last subtest of TestE2EOpencryptoki (one
// harness per test process: opencryptoki 3.8's C_Initialize has crashed
// when a process initialised a token a second time): describe-key answers,
// then pkcsslotd stops; generate-signature fails with one protocol error
// naming the module, and the human commands with one line.
func opencryptokiDaemonStopped(t *testing.T, o *e2e.Opencryptoki, w *tokWorld) {
	if !o.StartedDaemon() {
		if e2e.Required() {
			t.Fatal("a pkcsslotd the test did not start was running, so the daemon-stopped case cannot run; stop it (pkill pkcsslotd) and run again")
		}
		t.Skip("pkcsslotd ran before the test: the test does not stop a daemon it did not start")
	}
	r := w.human(t, 0, "key", "generate", "--token", "pkcs11:token="+e2e.OpencryptokiTestLabel, "--type", "rsa-2048", "--label", "going", "--output", "json")
	var gen struct{ URI string }
	if err := json.Unmarshal([]byte(r.Stdout), &gen); err != nil {
		t.Fatal(err)
	}
	w.certify(t, gen.URI, "going")
	dk := w.np(t, `{"contractVersion":"1.0","keyId":"`+gen.URI+`"}`, "describe-key")
	if dk.Code != 0 || !strings.Contains(dk.Stdout, `"keySpec":"RSA-2048"`) {
		t.Fatalf("describe-key: %+v", dk)
	}
	if err := o.StopDaemon(); err != nil {
		t.Fatal(err)
	}
	gs := w.np(t, signRequestSpec(gen.URI, "RSA-2048", "SHA-256", map[string]string{"timeout": "1h"}), "generate-signature")
	code, msg := protocolError(t, result{gs.Stdout, gs.Stderr, gs.Code})
	if code != "ERROR" || !strings.Contains(msg, "module unusable") {
		t.Fatalf("pkcsslotd stopped: %s %q, want ERROR naming the module", code, msg)
	}
	t.Logf("pkcsslotd stopped after describe-key: %s: %s", code, msg)
	w.human(t, 1, "token", "list")
}
