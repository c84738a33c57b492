package containerdverifier

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
)

// checkReason checks what every answer must be: at most 32 KiB with its
// newline, no raw control character but the newlines between lines, a
// first line that carries "fix:" for every refusal.
func checkReason(t *testing.T, o Outcome) {
	t.Helper()
	if len(o.Reason)+1 > MaxReasonBytes {
		t.Errorf("reason is %d bytes, over containerd's %d with its newline", len(o.Reason), MaxReasonBytes)
	}
	for _, line := range strings.Split(o.Reason, "\n") {
		if textsafe.Has(line) {
			t.Errorf("reason line %q holds a control character", line)
		}
	}
	for _, line := range o.Debug {
		if textsafe.Has(line) {
			t.Errorf("debug line %q holds a control character", line)
		}
	}
	first, _, _ := strings.Cut(o.Reason, "\n")
	if o.Code != ExitAllowed && !strings.Contains(first, "; fix: ") {
		t.Errorf("refusal's first line has no fix: %q", first)
	}
}

func TestRun(t *testing.T) {
	w := newWorld(t)
	signedDesc, signedName := w.signed(t, "signed", nil)
	unsignedDesc, unsignedName := w.image(t, "unsigned")
	untrustedDesc, untrustedName := w.signed(t, "untrusted", servicetest.NewSigner(t, pkiDir, "ec-384"))
	wrongDesc, wrongName := w.signed(t, "wrong-identity", nil)
	skipDesc, skipName := w.image(t, "skipped")
	w.policy["trustPolicies"] = append(w.policy["trustPolicies"].([]any),
		map[string]any{
			"name": "wrong-identity", "registryScopes": []string{w.reg.Ref("wrong-identity")},
			"signatureVerification": map[string]any{"level": "strict"}, "trustStores": []string{"ca:node"},
			"trustedIdentities": []string{"x509.subject: C=US, ST=WA, O=Someone Else, CN=release"},
		},
		map[string]any{"name": "skip", "registryScopes": []string{w.reg.Ref("skipped")}, "signatureVerification": map[string]any{"level": "skip"}},
	)
	w.write(t)
	absent := signedDesc
	absent.Digest = dgst

	cases := []struct {
		name string
		desc ocispec.Descriptor
		img  string
		code int
		want []string // parts of the first line
	}{
		{"signed", signedDesc, signedName, ExitAllowed, []string{"verified: " + w.reg.Ref("signed@") + signedDesc.Digest.String(), `policy "node"`}},
		{"signed, by digest", signedDesc, w.reg.Ref("signed@") + signedDesc.Digest.String(), ExitAllowed, []string{"verified: "}},
		{"unsigned", unsignedDesc, unsignedName, ExitRefused, []string{"failed: " + w.reg.Ref("unsigned@"), "no signature"}},
		{"untrusted root", untrustedDesc, untrustedName, ExitRefused, []string{"failed: ", "authenticity"}},
		{"wrong identity", wrongDesc, wrongName, ExitRefused, []string{"failed: ", "O=Someone Else"}},
		{"level skip", skipDesc, skipName, ExitAllowed, []string{"skipped: ", `"skip"`}},
		{"not in the registry", absent, w.reg.Ref("signed:gone"), ExitRefused, []string{"refused: " + w.reg.Ref("signed@") + dgst.String(), "registry.plainHTTP"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := Run(context.Background(), args(c.img, c.desc), w.env(c.desc))
			t.Logf("exit %d:\n%s", o.Code, o.Reason)
			checkReason(t, o)
			if o.Code != c.code {
				t.Errorf("exit %d, want %d", o.Code, c.code)
			}
			first, rest, _ := strings.Cut(o.Reason, "\n")
			for _, s := range c.want {
				if !strings.Contains(first, s) {
					t.Errorf("first line %q lacks %q", first, s)
				}
			}
			if c.code == ExitRefused && o.Report != nil && !strings.Contains(rest, "details: trustpolicy explain --policy "+w.path("trustpolicy.json")) {
				t.Errorf("a refusal does not end with the explain command: %q", rest)
			}
			if len(o.Debug) == 0 || !strings.Contains(o.Debug[0], w.configFile()) {
				t.Errorf("debug lines %q do not name the configuration", o.Debug)
			}
		})
	}
}

// The verifier verifies the digest containerd gives: a tag that has moved
// since containerd resolved it does not change what is verified.
func TestRunVerifiesTheDigestGiven(t *testing.T) {
	w := newWorld(t)
	signedDesc, _ := w.signed(t, "app", nil)
	unsignedDesc, name := w.image(t, "app") // the tag now names the unsigned image
	if o := Run(context.Background(), args(name, signedDesc), w.env(signedDesc)); o.Code != ExitAllowed {
		t.Errorf("signed digest under a moved tag: exit %d: %s", o.Code, o.Reason)
	}
	if o := Run(context.Background(), args(name, unsignedDesc), w.env(unsignedDesc)); o.Code != ExitRefused {
		t.Errorf("unsigned digest: exit %d: %s", o.Code, o.Reason)
	}
}

func TestRunInvocation(t *testing.T) {
	w := newWorld(t)
	desc, name := w.signed(t, "app", nil)
	wrong := desc
	wrong.Digest = other
	cases := []struct {
		name string
		args []string
		env  Env
		want string
	}{
		{"no arguments", nil, w.env(desc), "-name is missing"},
		{"descriptor of another image", args(name, desc), w.env(wrong), "the descriptor on stdin names digest \"" + other.String()},
		{"name of another digest", args(w.reg.Ref("app@")+other.String(), desc), w.env(desc), "names digest " + other.String()},
		{"control characters", []string{"-name", "\x1b]0;owned\a", "-digest", desc.Digest.String(), "-stdin-media-type", DescriptorMediaType}, w.env(desc), `-name "\x1b]0;owned\x07"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := Run(context.Background(), c.args, c.env)
			checkReason(t, o)
			if o.Code != ExitInvocation || !strings.HasPrefix(o.Reason, "refused: bad invocation: ") || !strings.Contains(o.Reason, c.want) {
				t.Errorf("exit %d, reason %q: want %d with %q", o.Code, o.Reason, ExitInvocation, c.want)
			}
		})
	}
}

// A verification that does not finish in time is refused at the timeout,
// whatever it is blocked on.
func TestRunTimeout(t *testing.T) {
	w := newWorld(t)
	desc, name := w.signed(t, "app", nil)
	w.cfg["timeout"] = "1s"
	w.cfg["revocation"] = map[string]any{"cacheDir": w.path("crl"), "ocspTimeout": "300ms", "crlTimeout": "300ms"}
	w.write(t)
	release := make(chan struct{})
	defer close(release)
	w.reg.Tamper(func(rw http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/manifests/") {
			select { // hold the request until the test ends
			case <-release:
			case <-r.Context().Done():
			}
			return true
		}
		return false
	})
	o := Run(context.Background(), args(name, desc), w.env(desc))
	checkReason(t, o)
	if o.Code != ExitTimeout || !strings.Contains(o.Reason, "the verification did not finish within 1s (timeout in "+w.configFile()+")") {
		t.Errorf("exit %d, reason %q: want %d and the timeout named", o.Code, o.Reason, ExitTimeout)
	}

	// A descriptor that never ends (stdin held open) is bounded too.
	w.reg.Tamper(nil)
	env := w.env(desc)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	defer pr.Close()
	env.Stdin = pr
	if o := Run(context.Background(), args(name, desc), env); o.Code != ExitTimeout {
		t.Errorf("stdin held open: exit %d, reason %q", o.Code, o.Reason)
	}
}

func TestRunInterrupted(t *testing.T) {
	w := newWorld(t)
	desc, name := w.signed(t, "app", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := Run(ctx, args(name, desc), w.env(desc))
	checkReason(t, o)
	if o.Code == ExitAllowed {
		t.Errorf("interrupted run allowed the pull: %q", o.Reason)
	}
}

// A configuration that does not lint clean refuses every pull and says
// why, each problem on its own line, with the command that checks the fix.
func TestRunConfigRefused(t *testing.T) {
	w := newWorld(t)
	desc, name := w.signed(t, "app", nil)
	st := w.policy["trustPolicies"].([]any)[0].(map[string]any)
	st["trustStore"] = "ca:node" // a key notation ignores: lint --strict refuses it
	st["registryScopes"] = []string{"*", "*"}
	w.write(t)
	o := Run(context.Background(), args(name, desc), w.env(desc))
	t.Logf("%s", o.Reason)
	checkReason(t, o)
	lines := strings.Split(o.Reason, "\n")
	if o.Code != ExitConfig || len(lines) < 3 {
		t.Fatalf("exit %d with %d lines, want %d with each problem listed: %q", o.Code, len(lines), ExitConfig, o.Reason)
	}
	for _, s := range []string{"do not lint clean", "3 problem(s)", "fix: edit " + w.path("trustpolicy.json"), "then run: notation-pkcs11-containerd check --config " + w.configFile()} {
		if !strings.Contains(lines[0], s) {
			t.Errorf("first line %q lacks %q", lines[0], s)
		}
	}
	if !strings.Contains(lines[1], "policy trustPolicies[0].trustStore") || !strings.Contains(o.Reason, "registryScopes") {
		t.Errorf("problems not listed: %q", lines[1:])
	}
}

// Files the verifier trusts must be root's or the effective user's and not
// writable by others; the fix printed repairs it as printed.
func TestRunUntrustedFiles(t *testing.T) {
	w := newWorld(t)
	desc, name := w.signed(t, "app", nil)
	for _, f := range []struct{ name, path, what string }{
		{"configuration", w.configFile(), "configuration file"},
		{"policy", w.path("trustpolicy.json"), "trust policy"},
		{"trust store file", w.path("truststore/x509/ca/node/root.crt"), "trust store file"},
		{"trust store folder", w.path("truststore/x509/ca/node"), "trust store folder"},
	} {
		t.Run(f.name, func(t *testing.T) {
			if err := os.Chmod(f.path, 0o777); err != nil {
				t.Fatal(err)
			}
			o := Run(context.Background(), args(name, desc), w.env(desc))
			checkReason(t, o)
			want := fmt.Sprintf("the %s %s is writable by group or others (mode 0777)", f.what, f.path)
			if o.Code != ExitConfig || !strings.Contains(o.Reason, want) || !strings.Contains(o.Reason, "; fix: chmod go-w "+f.path) {
				t.Fatalf("exit %d, reason %q: want %d, %q and the chmod fix", o.Code, o.Reason, ExitConfig, want)
			}
			runFix(t, o.Reason)
			if o := Run(context.Background(), args(name, desc), w.env(desc)); o.Code != ExitAllowed {
				t.Errorf("after the fix: exit %d: %s", o.Code, o.Reason)
			}
		})
	}
	t.Run("symlinked configuration", func(t *testing.T) {
		real := w.path("real.json")
		if err := os.Rename(w.configFile(), real); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(real, w.configFile()); err != nil {
			t.Fatal(err)
		}
		o := Run(context.Background(), args(name, desc), w.env(desc))
		checkReason(t, o)
		if o.Code != ExitConfig || !strings.Contains(o.Reason, "is not a regular file (a symlink") {
			t.Fatalf("exit %d, reason %q", o.Code, o.Reason)
		}
		runFix(t, o.Reason)
		if o := Run(context.Background(), args(name, desc), w.env(desc)); o.Code != ExitAllowed {
			t.Errorf("after the fix: exit %d: %s", o.Code, o.Reason)
		}
	})
	t.Run("owned by another user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			if e2e.Required() {
				t.Fatal("make test runs as root; only root can give a file away")
			}
			t.Skip("only root can give a file away") // make test runs as root
		}
		if err := os.Chown(w.configFile(), 65534, 65534); err != nil {
			t.Fatal(err)
		}
		o := Run(context.Background(), args(name, desc), w.env(desc))
		checkReason(t, o)
		if o.Code != ExitConfig || !strings.Contains(o.Reason, "is owned by uid 65534, not by root or the effective user (uid 0)") ||
			!strings.Contains(o.Reason, "fix: chown 0 "+w.configFile()) {
			t.Fatalf("exit %d, reason %q", o.Code, o.Reason)
		}
		runFix(t, o.Reason)
		if o := Run(context.Background(), args(name, desc), w.env(desc)); o.Code != ExitAllowed {
			t.Errorf("after the fix: exit %d: %s", o.Code, o.Reason)
		}
	})
	t.Run("revocation cache writable by others", func(t *testing.T) {
		if err := os.MkdirAll(w.path("crl"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(w.path("crl"), 0o777); err != nil {
			t.Fatal(err)
		}
		o := Run(context.Background(), args(name, desc), w.env(desc))
		checkReason(t, o)
		if o.Code != ExitConfig || !strings.Contains(o.Reason, "revocation.cacheDir") || !strings.Contains(o.Reason, "fix: chmod -R go-w "+w.path("crl")) {
			t.Fatalf("exit %d, reason %q", o.Code, o.Reason)
		}
		runFix(t, o.Reason)
		if o := Run(context.Background(), args(name, desc), w.env(desc)); o.Code != ExitAllowed {
			t.Errorf("after the fix: exit %d: %s", o.Code, o.Reason)
		}
	})
}

// runFix runs the fix of the reason's first line with sh, as printed.
func runFix(t *testing.T, reason string) {
	t.Helper()
	first, _, _ := strings.Cut(reason, "\n")
	_, fix, ok := strings.Cut(first, "; fix: ")
	if !ok {
		t.Fatalf("no fix in %q", first)
	}
	if out, err := exec.Command("sh", "-c", fix).CombinedOutput(); err != nil {
		t.Fatalf("fix %q: %v: %s", fix, err, out)
	}
}

// The reason never exceeds containerd's 32 KiB, however many problems.
func TestRunReasonCapped(t *testing.T) {
	w := newWorld(t)
	desc, name := w.signed(t, "app", nil)
	var sts []any
	for i := range 2000 {
		sts = append(sts, map[string]any{"name": fmt.Sprintf("s%d", i), "registryScopes": []string{fmt.Sprintf("r.example/app%d", i)},
			"signatureVerification": map[string]any{"level": "strict"}, "trustStores": []string{"ca:node"}, "trustedIdentities": []string{"*"},
			"unknownKey": "\x1b[31m"})
	}
	w.policy["trustPolicies"] = sts
	w.write(t)
	o := Run(context.Background(), args(name, desc), w.env(desc))
	checkReason(t, o)
	if o.Code != ExitConfig || !strings.HasSuffix(o.Reason, "… (cut at 32 KiB; run the details command for everything)") {
		t.Errorf("exit %d, reason of %d bytes ending %q", o.Code, len(o.Reason), o.Reason[max(0, len(o.Reason)-100):])
	}
}

func TestRunPlainHTTPOnlyWhenListed(t *testing.T) {
	w := newWorld(t)
	desc, name := w.signed(t, "app", nil)
	w.cfg["registry"] = map[string]any{}
	w.write(t)
	o := Run(context.Background(), args(name, desc), w.env(desc))
	checkReason(t, o)
	if o.Code != ExitRefused || !strings.Contains(o.Reason, fmt.Sprintf("list %q in registry.plainHTTP of %s", w.reg.Host(), w.configFile())) {
		t.Errorf("exit %d, reason %q", o.Code, o.Reason)
	}
}
