package plugin

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

func doctorOn(t *testing.T, tok *fakeToken, e env, keyID string, o DoctorOptions) *DoctorReport {
	t.Helper()
	b := &fakeBackend{t: t, tok: tok}
	p := New(Options{Backend: b, Getenv: e.get, Now: testpki.Epoch})
	if o.Revocation == nil {
		o.Revocation = revocation.NonRevokableOnly()
	}
	rep := p.Doctor(context.Background(), keyID, nil, o)
	if b.unclosed() != 0 {
		t.Fatalf("%d token(s) left open", b.unclosed())
	}
	return rep
}

func lastCheck(rep *DoctorReport) Check { return rep.Checks[len(rep.Checks)-1] }

// TestDoctorFixCommandsRun: a failure whose fix is a command gets it
// exactly as it is to be run; running it repairs that link.
func TestDoctorFixCommandsRun(t *testing.T) {
	mod := fakeModule(t)
	type setup func(t *testing.T, pinFile string)
	cases := []struct {
		name  string
		setup setup
		want  string // the command, with PINFILE for the file's path
	}{
		{"PIN file readable by others", func(t *testing.T, f string) { chmod(t, f, 0o644) }, "chmod 600 PINFILE"},
		{"PIN file readable by the group", func(t *testing.T, f string) { chmod(t, f, 0o640) }, "chmod 600 PINFILE"},
	}
	if os.Geteuid() == 0 {
		// Only root can give a file away, and take it back.
		cases = append(cases, struct {
			name  string
			setup setup
			want  string
		}{"PIN file owned by another user", func(t *testing.T, f string) {
			if err := os.Chown(f, 65534, -1); err != nil {
				t.Fatal(err)
			}
		}, "chown 0 PINFILE"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pinFile := filepath.Join(t.TempDir(), "user pin") // a space: the command must quote it
			if err := os.WriteFile(pinFile, []byte(testPIN+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c.setup(t, pinFile)
			uri := keyURI + "?pin-source=file:" + strings.ReplaceAll(pinFile, " ", "%20")
			e := env{ModuleEnv: mod}
			rep := doctorOn(t, goodToken(t, "ec-256", true), e, uri, DoctorOptions{})
			failed := lastCheck(rep)
			want := strings.ReplaceAll(c.want, "PINFILE", shellQuote(pinFile))
			if rep.Failed != CheckPIN || failed.Command != want || failed.Fix != want {
				t.Fatalf("failed %q, fix %q, command %q; want the pin link with command %q", rep.Failed, failed.Fix, failed.Command, want)
			}
			checkNoPIN(t, c.name, failed.Detail, failed.Fix)
			if out, err := exec.Command("sh", "-c", failed.Command).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", failed.Command, err, out)
			}
			if rep := doctorOn(t, goodToken(t, "ec-256", true), e, uri, DoctorOptions{}); !rep.OK {
				t.Fatalf("after %s doctor still fails at %s: %+v", failed.Command, rep.Failed, lastCheck(rep))
			}
		})
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// TestDoctorFixesAreSpecific: each failure's fix names the real module,
// token, file or key of that failure.
func TestDoctorFixesAreSpecific(t *testing.T) {
	mod := fakeModule(t)
	pinDir := t.TempDir()
	pinFile := filepath.Join(pinDir, "pin")
	if err := os.WriteFile(pinFile, []byte(wrongPIN), 0o600); err != nil {
		t.Fatal(err)
	}
	missingMod := filepath.Join(t.TempDir(), "libmissing.so")
	good := func(t *testing.T) *fakeToken { return goodToken(t, "ec-256", true) }
	cases := []struct {
		name    string
		tok     func(t *testing.T) *fakeToken
		env     env
		keyID   string
		failed  string
		fix     []string
		command string
	}{
		{name: "module file missing", tok: func(t *testing.T) *fakeToken { tk := good(t); tk.OpenErr = pkcs11.ErrModule; return tk },
			env: env{ModuleEnv: missingMod}, failed: CheckModule, fix: []string{"there is no file " + missingMod, "apt-get install softhsm2", ModuleEnv}},
		{name: "module does not load", tok: func(t *testing.T) *fakeToken { tk := good(t); tk.OpenErr = pkcs11.ErrModule; return tk },
			keyID: keyURI + "?module-path=" + mod, failed: CheckModule, fix: []string{mod + " does not load", "module-path= in the key URI"}},
		{name: "token missing", tok: good, keyID: "pkcs11:token=other;object=signing-key", failed: CheckToken,
			fix: []string{"notation-pkcs11 token list --plugin-config module_path=" + mod}},
		{name: "no PIN", tok: good, env: env{ModuleEnv: mod}, failed: CheckPIN, fix: []string{"pin-source=file:", pkcs11.PINEnv}},
		{name: "PIN file missing", tok: good, env: env{ModuleEnv: mod}, keyID: keyURI + "?pin-source=file:" + pinDir + "/nope", failed: CheckPIN,
			fix: []string{"make " + pinDir + "/nope a regular file"}},
		{name: "wrong PIN in the file", tok: good, env: env{ModuleEnv: mod}, keyID: keyURI + "?pin-source=file:" + pinFile, failed: CheckPIN,
			fix: []string{"write the token's user PIN into " + pinFile}},
		{name: "wrong PIN in the environment", tok: good, env: env{ModuleEnv: mod, pkcs11.PINEnv: wrongPIN}, failed: CheckPIN,
			fix: []string{"set " + pkcs11.PINEnv}},
		{name: "key missing", tok: good, keyID: "pkcs11:token=fake-token;object=nope", failed: CheckKey,
			fix:     []string{"notation-pkcs11 key list --token pkcs11:token=fake-token"},
			command: "notation-pkcs11 key generate --token pkcs11:token=fake-token --type ec-256 --label nope"},
		{name: "key missing, with id", tok: good, keyID: "pkcs11:token=fake-token;object=nope;id=%0a%0b", failed: CheckKey,
			command: "notation-pkcs11 key generate --token pkcs11:token=fake-token --type ec-256 --label nope --id 0a0b"},
		{name: "no certificate", tok: func(t *testing.T) *fakeToken { return goodToken(t, "ec-256", false) }, failed: CheckCertificate,
			fix: []string{"notation-pkcs11 csr --key '" + keyURI + "'", "notation-pkcs11 cert import --key '" + keyURI + "' chain.pem"}},
		{name: "incomplete chain", tok: func(t *testing.T) *fakeToken { tk := good(t); tk.Certs = tk.Certs[:1]; return tk }, failed: CheckChain,
			fix: []string{"notation-pkcs11 cert import --key '" + keyURI + "' issuer.pem root.pem"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := c.env
			if e == nil {
				e = stdEnv(mod)
			}
			id := c.keyID
			if id == "" {
				id = keyURI
			}
			rep := doctorOn(t, c.tok(t), e, id, DoctorOptions{})
			last := lastCheck(rep)
			if rep.Failed != c.failed {
				t.Fatalf("failed %q, want %q: %+v", rep.Failed, c.failed, last)
			}
			for _, w := range c.fix {
				if !strings.Contains(last.Fix, w) {
					t.Errorf("fix %q does not say %q", last.Fix, w)
				}
			}
			if last.Command != c.command {
				t.Errorf("command %q, want %q", last.Command, c.command)
			}
			if c.command != "" && !strings.Contains(last.Fix, c.command) {
				t.Errorf("fix %q does not show the command", last.Fix)
			}
			checkNoPIN(t, c.name, last.Detail, last.Fix)
		})
	}
}

// TestDoctorOptionsValidate: the trust policy linter checks the name,
// trust store and scope, and the error names the option.
func TestDoctorOptionsValidate(t *testing.T) {
	cases := []struct {
		o      DoctorOptions
		option string
	}{
		{DoctorOptions{}, ""},
		{DoctorOptions{KeyName: "rel", TrustStore: "acme-ca", Scope: "registry.example.com/app"}, ""},
		{DoctorOptions{Scope: "registry.example.com/app:v1"}, "Scope"},
		{DoctorOptions{Scope: "not a scope"}, "Scope"},
		{DoctorOptions{Scope: "registry.example.com/*"}, "Scope"},
		{DoctorOptions{TrustStore: "no/slash"}, "TrustStore"},
		{DoctorOptions{TrustStore: "sp ace"}, "TrustStore"},
	}
	for _, c := range cases {
		err := c.o.Validate()
		var oe *DoctorOptionError
		switch {
		case c.option == "" && err != nil:
			t.Errorf("%+v: %v", c.o, err)
		case c.option != "" && (!errors.As(err, &oe) || oe.Option != c.option || oe.Msg == ""):
			t.Errorf("%+v: %v, want a %s error", c.o, err, c.option)
		}
	}
	// Doctor itself refuses them at the config link.
	rep := doctorOn(t, goodToken(t, "ec-256", true), stdEnv(fakeModule(t)), keyURI, DoctorOptions{Scope: "a b"})
	var oe *DoctorOptionError
	if rep.Failed != CheckConfig || !errors.As(lastCheck(rep).Err, &oe) || oe.Option != "Scope" || oe.Value != "a b" {
		t.Fatalf("%+v", rep.Checks)
	}
}

// TestDoctorTrustPolicy: the printed document is complete, the linter
// accepts it, and its statement trusts exactly this signing certificate.
func TestDoctorTrustPolicy(t *testing.T) {
	leaf := loadCerts(t, "ec-256/chain.pem")[0]
	o := DoctorOptions{KeyName: "rel-2026", TrustStore: "acme", Scope: "registry.example.com/app", RootFile: "/tmp/acme root.pem"}
	rep := doctorOn(t, goodToken(t, "ec-256", true), stdEnv(fakeModule(t)), keyURI, o)
	if !rep.OK {
		t.Fatalf("doctor: %+v", rep.Checks)
	}
	doc := rep.TrustPolicy
	if doc == nil || doc.Version != "1.0" {
		t.Fatalf("trust policy %+v", doc)
	}
	if probs := trustpolicy.Lint(doc); len(probs) != 0 {
		t.Fatalf("lint: %v", probs)
	}
	pol, err := trustpolicy.Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	rule, err := pol.Select("registry.example.com/app@sha256:" + strings.Repeat("a", 64))
	if err != nil {
		t.Fatal(err)
	}
	st := doc.TrustPolicies[0]
	if st.Name != "rel-2026" || st.SignatureVerification.Level != "strict" || len(st.TrustStores) != 1 || st.TrustStores[0] != "ca:acme" {
		t.Fatalf("statement %+v", st)
	}
	if err := rule.MatchIdentity(leaf); err != nil {
		t.Fatalf("the statement does not trust the signing certificate: %v", err)
	}
	if rep.Root == nil || rep.Root.Subject.String() != rep.RootSubject {
		t.Fatalf("root %v, subject %q", rep.Root, rep.RootSubject)
	}
	if rep.TrustStoreCommand != "notation cert add --type ca --store acme '/tmp/acme root.pem'" {
		t.Fatalf("trust store command %q", rep.TrustStoreCommand)
	}
}
