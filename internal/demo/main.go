// Command demo walks the whole notation-pkcs11 path on this machine, one
// numbered step per line: it creates a SoftHSM token, generates a key inside
// it (notation-pkcs11 key generate), makes a request signed in the HSM
// (notation-pkcs11 csr), has the development CA issue it, stores and checks
// the chain (notation-pkcs11 cert import, doctor), pushes an
// artifact to a local registry, signs it with the real notation CLI through
// the plugin, and verifies the signature with a strict trust policy. It ends
// with the project's own verifier: trustpolicy explain on the signed
// artifact, on an unsigned one, and on a tampered copy of the signature
// fetched with oras (local mode), so a newcomer sees the explanations, not
// only notation's one line.
//
// Run it with `make demo`, or:
//
//	make build
//	go run ./internal/demo -plugin bin/notation-pkcs11 -trustpolicy bin/trustpolicy -dir .demo
//
// Everything lives under -dir (wiped and recreated on each run). The token
// PIN is random, written to DIR/pin (mode 0600) and reached only through the
// key URI's pin-source; it is never printed nor put in notation's
// environment. The registry is stopped on success, failure and Ctrl-C.
//
// The dev CA and the token are for demonstration only: never trust the dev
// CA's root outside this demo.
package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
	"github.com/notation-pkcs11/notation-pkcs11/internal/testca"
)

const (
	tokenLabel = "demo"
	keyURIBase = "pkcs11:token=demo;object=release-signing;id=%01"
	keyLabel   = "release-signing"
	identity   = "C=US, ST=WA, L=Seattle, O=Example Release Team, CN=Demo Release Signing"
	subjectDN  = "C=US,ST=WA,L=Seattle,O=Example Release Team,CN=Demo Release Signing"
	storeName  = "demo"
	totalSteps = 12
)

var keyID = []byte{0x01}

// options are the demo's inputs.
type options struct {
	Plugin string    // the built plugin binary
	Verify string    // the built trustpolicy binary
	Dir    string    // state folder, wiped and recreated
	Tools  e2e.Tools // notation, oras, registry
}

func main() {
	pluginBin := flag.String("plugin", "", "path to the built notation-pkcs11 binary (required)")
	verifyBin := flag.String("trustpolicy", "", "path to the built trustpolicy binary (required)")
	dir := flag.String("dir", ".demo", "state folder (wiped and recreated on each run)")
	flag.Parse()
	if *pluginBin == "" || *verifyBin == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/demo -plugin bin/notation-pkcs11 -trustpolicy bin/trustpolicy [-dir .demo]")
		os.Exit(2)
	}
	tools, err := e2e.FindTools()
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, options{Plugin: *pluginBin, Verify: *verifyBin, Dir: *dir, Tools: tools}, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "demo failed: %v\n", err)
		stop()
		os.Exit(1)
	}
}

// stepError names the step that failed.
type stepError struct {
	n    int
	what string
	err  error
}

func (e *stepError) Error() string {
	return fmt.Sprintf("step %d/%d (%s): %v", e.n, totalSteps, e.what, e.err)
}
func (e *stepError) Unwrap() error { return e.err }

// demo carries the state shared by the steps.
type demo struct {
	opts    options
	out     io.Writer
	dir     string // absolute
	pinFile string
	keyURI  string // with pin-source
	module  string
	hsm     *e2e.SoftHSM
	root    string // dev CA root, PEM file
	reg     *e2e.Registry
	ref     string // artifact by digest
	sigRef  string // the signature manifest, REPO@DIGEST
	not     *e2e.Notation
}

// run performs the demo's steps, printing one line (plus facts) per step.
func run(ctx context.Context, opts options, stdout io.Writer) (err error) {
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if opts.Plugin, err = filepath.Abs(opts.Plugin); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if opts.Verify, err = filepath.Abs(opts.Verify); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	d := &demo{opts: opts, out: stdout, dir: dir}
	fmt.Fprintf(stdout, "notation-pkcs11 demo (state in %s)\n", dir)
	defer func() {
		if d.reg == nil {
			return
		}
		if serr := d.reg.Stop(); serr != nil && err == nil {
			err = &stepError{totalSteps, "stopping the registry", serr}
			return
		}
		d.say(totalSteps, "Stopped the local registry.")
	}()
	steps := []struct {
		what string
		fn   func(context.Context) error
	}{
		{"creating the SoftHSM token", d.createToken},
		{"generating the key in the token", d.generateKey},
		{"issuing and storing the certificate", d.issueCertificate},
		{"starting the local registry", d.startRegistry},
		{"pushing the artifact with oras", d.push},
		{"setting up notation", d.setupNotation},
		{"signing with notation", d.sign},
		{"verifying with notation", d.verify},
		{"explaining the verdict with trustpolicy", d.explainSigned},
		{"explaining an unsigned artifact", d.explainUnsigned},
		{"explaining a tampered signature", d.explainTampered},
	}
	for i, s := range steps {
		if err := ctx.Err(); err != nil {
			return &stepError{i + 1, s.what, err}
		}
		if err := s.fn(ctx); err != nil {
			return &stepError{i + 1, s.what, err}
		}
	}
	return nil
}

func (d *demo) say(n int, format string, args ...any) {
	fmt.Fprintf(d.out, "[%d/%d] %s\n", n, totalSteps, fmt.Sprintf(format, args...))
}

func (d *demo) fact(name, value string) {
	fmt.Fprintf(d.out, "      %-14s %s\n", name+":", value)
}

// createToken is step 1: a fresh SoftHSM token with a random PIN in DIR/pin.
func (d *demo) createToken(context.Context) error {
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		return fmt.Errorf("softhsm2-util not found (apt-get install softhsm2, or make deps): %w", err)
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return err
	}
	for _, sub := range []string{"softhsm", "cache", "notation", "registry", "artifact", "pin", "root.crt", "release.csr", "release-chain.pem"} {
		if err := os.RemoveAll(filepath.Join(d.dir, sub)); err != nil {
			return err
		}
	}
	hsm, err := e2e.NewSoftHSM(filepath.Join(d.dir, "softhsm"))
	if err != nil {
		return err
	}
	d.hsm, d.module = hsm, hsm.Module()
	if _, err := os.Stat(d.module); err != nil {
		return fmt.Errorf("PKCS#11 module: %w", err)
	}
	userPIN, soPIN := randomPIN(), randomPIN()
	if userPIN == "" || soPIN == "" {
		return errors.New("no randomness for the PINs")
	}
	pinFile := filepath.Join(d.dir, "pin")
	if err := os.WriteFile(pinFile, []byte(userPIN+"\n"), 0o600); err != nil {
		return err
	}
	if err := hsm.InitToken(tokenLabel, soPIN, userPIN); err != nil {
		return err
	}
	d.pinFile = pinFile
	d.keyURI = keyURIBase + "?pin-source=file:" + pinFile
	// The module reads SOFTHSM2_CONF when this process loads it.
	if err := os.Setenv("SOFTHSM2_CONF", hsm.ConfPath()); err != nil {
		return err
	}
	d.say(1, "Created a SoftHSM token; its PIN is random and kept in a file only you can read.")
	d.fact("token label", tokenLabel)
	d.fact("PIN file", pinFile+" (mode 0600)")
	return nil
}

func randomPIN() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return ""
	}
	return hex.EncodeToString(b)
}

// np runs the plugin binary's workflow command args (the project's own
// commands, as a user runs them) and returns its standard output. The PIN
// reaches it only through the key URI's pin-source.
func (d *demo) np(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, d.opts.Plugin, args...)
	cmd.Env = append(d.hsm.Env(), "PATH="+os.Getenv("PATH"), "HOME="+os.Getenv("HOME"),
		"NOTATION_PKCS11_MODULE="+d.module, "NOTATION_PKCS11_CACHE="+filepath.Join(d.dir, "cache"))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("notation-pkcs11 %s: %w:\n%s", strings.Join(args[:min(2, len(args))], " "), err, strings.TrimSpace(stderr.String()+"\n"+stdout.String()))
	}
	return stdout.String(), nil
}

// generateKey is step 2: notation-pkcs11 key generate makes an EC P-256
// key pair inside the token.
func (d *demo) generateKey(ctx context.Context) error {
	out, err := d.np(ctx, "key", "generate", "--token", "pkcs11:token="+tokenLabel+"?pin-source=file:"+d.pinFile,
		"--type", "ec-256", "--label", keyLabel, "--id", hex.EncodeToString(keyID))
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(out); got != d.keyURI {
		return fmt.Errorf("key generate printed %q, want %q", got, d.keyURI)
	}
	d.say(2, "notation-pkcs11 key generate: an EC P-256 key inside the token (the private key never leaves it).")
	d.fact("key URI", d.keyURI)
	return nil
}

// issueCertificate is step 3: notation-pkcs11 csr makes a request signed in
// the HSM, the dev CA issues it, notation-pkcs11 cert import checks and
// stores the chain, and notation-pkcs11 doctor checks every link.
func (d *demo) issueCertificate(ctx context.Context) error {
	csrPath := filepath.Join(d.dir, "release.csr")
	if _, err := d.np(ctx, "csr", "--key", d.keyURI, "--subject", subjectDN, "--out", csrPath); err != nil {
		return err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	caDir, err := testca.FindDir(cwd)
	if err != nil {
		return err
	}
	ca, err := testca.Load(caDir)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(csrPath)
	if err != nil {
		return err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return fmt.Errorf("%s: no PEM request", csrPath)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return err
	}
	now := time.Now().Truncate(time.Second)
	leaf, err := ca.IssueCSR(csr, now.Add(-time.Minute), now.AddDate(1, 0, 0))
	if err != nil {
		return err
	}
	chainPath := filepath.Join(d.dir, "release-chain.pem")
	if err := os.WriteFile(chainPath, testca.PEM(append([]*x509.Certificate{leaf}, ca.Chain()...)...), 0o644); err != nil {
		return err
	}
	if _, err := d.np(ctx, "cert", "import", "--key", d.keyURI, chainPath); err != nil {
		return err
	}
	out, err := d.np(ctx, "doctor", "--key", d.keyURI, "--output", "json")
	if err != nil {
		return err
	}
	var rep struct {
		OK       bool   `json:"ok"`
		Identity string `json:"identity"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.OK {
		return fmt.Errorf("doctor did not pass (%v):\n%s", err, out)
	}
	d.root = filepath.Join(d.dir, "root.crt")
	if err := os.WriteFile(d.root, testca.PEM(ca.Root), 0o644); err != nil {
		return err
	}
	d.say(3, "notation-pkcs11 csr, the dev CA issues it, notation-pkcs11 cert import and doctor: the key is ready.")
	d.fact("subject", identity)
	d.fact("issuer", ca.Intermediate.Subject.String())
	d.fact("valid until", leaf.NotAfter.UTC().Format(time.DateOnly))
	d.fact("identity", rep.Identity)
	return nil
}

// startRegistry is step 4.
func (d *demo) startRegistry(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	reg, err := e2e.StartRegistry(sctx, d.opts.Tools.Registry, filepath.Join(d.dir, "registry"))
	if err != nil {
		return err
	}
	d.reg = reg
	d.say(4, "Started a local OCI registry.")
	d.fact("address", reg.Addr())
	return nil
}

// push is step 5.
func (d *demo) push(ctx context.Context) error {
	tag := d.reg.Ref("demo/hello:v1")
	digest, err := e2e.Push(ctx, d.opts.Tools.Oras, tag, filepath.Join(d.dir, "artifact"),
		[]byte("hello from the notation-pkcs11 demo\n"))
	if err != nil {
		return err
	}
	d.ref = d.reg.Ref("demo/hello@" + digest)
	d.say(5, "Pushed a small artifact with oras.")
	d.fact("artifact", d.ref)
	return nil
}

// setupNotation is step 6: an isolated notation home with the plugin, the
// dev CA root in trust store ca:demo and a strict trust policy.
func (d *demo) setupNotation(ctx context.Context) error {
	d.not = e2e.NewNotation(d.opts.Tools.Notation, filepath.Join(d.dir, "notation"), append(d.hsm.Env(),
		"NOTATION_PKCS11_MODULE="+d.module,
		"NOTATION_PKCS11_CACHE="+filepath.Join(d.dir, "cache")))
	if _, err := d.notation(ctx, "plugin", "install", "--file", d.opts.Plugin); err != nil {
		return err
	}
	if _, err := d.notation(ctx, "cert", "add", "--type", "ca", "--store", storeName, d.root); err != nil {
		return err
	}
	if err := d.not.WriteTrustPolicy(e2e.StrictPolicy(storeName, "x509.subject: "+identity)); err != nil {
		return err
	}
	d.say(6, "Installed the plugin into notation, trusted the dev CA root and wrote a strict trust policy.")
	d.fact("notation home", filepath.Join(d.dir, "notation"))
	d.fact("trust store", "ca:"+storeName)
	d.fact("trusted id", "x509.subject: "+identity)
	return nil
}

// sign is step 7.
func (d *demo) sign(ctx context.Context) error {
	if _, err := d.notation(ctx, "sign", "--insecure-registry", "--signature-format", "cose",
		"--plugin", "pkcs11", "--id", d.keyURI, d.ref); err != nil {
		return err
	}
	out, err := d.notation(ctx, "inspect", "--insecure-registry", "-o", "json", d.ref)
	if err != nil {
		return err
	}
	var insp struct {
		Signatures []struct {
			Digest             string `json:"digest"`
			SignatureAlgorithm string `json:"signatureAlgorithm"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal([]byte(out), &insp); err != nil || len(insp.Signatures) == 0 {
		return fmt.Errorf("notation inspect shows no signature (%v):\n%s", err, out)
	}
	s := insp.Signatures[len(insp.Signatures)-1]
	d.say(7, "Signed the artifact with notation through the plugin (COSE envelope).")
	d.fact("signature", s.Digest)
	d.sigRef = d.reg.Ref("demo/hello@" + s.Digest)
	d.fact("algorithm", s.SignatureAlgorithm)
	return nil
}

// verify is step 8.
func (d *demo) verify(ctx context.Context) error {
	out, err := d.notation(ctx, "verify", "--insecure-registry", d.ref)
	if err != nil {
		return err
	}
	d.say(8, "Verified the signature with notation against the strict trust policy:")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		fmt.Fprintf(d.out, "      %s\n", line)
	}
	return nil
}

// notation runs the notation CLI; a failure carries its stderr.
func (d *demo) notation(ctx context.Context, args ...string) (string, error) {
	stdout, stderr, code, err := d.not.Run(ctx, args...)
	if err != nil {
		return stdout, err
	}
	if code != 0 {
		return stdout, fmt.Errorf("notation %s exited %d:\n%s", args[0], code, strings.TrimSpace(stderr+"\n"+stdout))
	}
	return stdout, nil
}
