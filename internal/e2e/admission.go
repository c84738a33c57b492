package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Names of the images an [AdmissionWorld] holds, one per admission outcome.
const (
	ImageSigned        = "signed"         // signed by the trusted signer: admitted
	ImageUnsigned      = "unsigned"       // no signature
	ImageUntrusted     = "untrusted"      // signed under a root the trust store does not hold
	ImageWrongIdentity = "wrong-identity" // signed under the trusted root by another subject
	ImageRevoked       = "revoked"        // signed by a leaf revoked since (CRL and OCSP say so)
)

// AdmissionSubject is the subject of the trusted signer, and
// AdmissionIdentity the trust policy identity that names it.
const (
	AdmissionSubject  = "C=US, ST=WA, O=Acme, CN=release"
	AdmissionIdentity = "x509.subject: " + AdmissionSubject
)

// AdmissionOptions configures [NewAdmissionWorld].
type AdmissionOptions struct {
	// Bench adds that many distinct artifacts, signed in turn by Signers
	// leaves of the trusted CA (subjects C=US, ST=WA, O=Acme, CN=signer-N),
	// all trusted by the policy, for a benchmark.
	Bench, Signers int
	// NoOCSP leaves OCSP out of the certificates (CRLs only).
	NoOCSP bool
}

// AdmissionWorld is what admission tests and benchmarks verify against:
// real images in a loopback registry, signed with the notation CLI by
// leaves of an OpenSSL CA whose CRL and OCSP answers are served on
// loopback, and the trust policy and trust store that decide them. Its
// JSON form is what cmd-less callers (a nested module's tests) read.
type AdmissionWorld struct {
	// Registry is HOST:PORT of the plain-HTTP registry on 127.0.0.1.
	Registry string `json:"registry"`
	// Policy and TrustStore are the trust policy file and the trust store
	// folder (holding x509/ca/acme/root.crt).
	Policy     string `json:"policy"`
	TrustStore string `json:"truststore"`
	// Images maps each Image* name to REGISTRY/admission/NAME:v1, and
	// Digests to REGISTRY/admission/NAME@DIGEST.
	Images  map[string]string `json:"images"`
	Digests map[string]string `json:"digests"`
	// Bench lists the benchmark artifacts, REGISTRY/bench/aN@DIGEST.
	Bench []string `json:"bench,omitempty"`
	// RootDir holds only the trusted root certificate (for Ratify's
	// verificationCerts).
	RootDir string `json:"rootDir"`
	// PolicyDoc is the trust policy document (for Ratify's trustPolicyDoc).
	PolicyDoc json.RawMessage `json:"policyDoc"`

	closers []func() error
}

// NewAdmissionWorld builds an AdmissionWorld under dir with the tools of
// [FindTools]. Close stops its servers.
func NewAdmissionWorld(ctx context.Context, dir string, opts AdmissionOptions) (w *AdmissionWorld, err error) {
	tools, err := FindTools()
	if err != nil {
		return nil, err
	}
	w = &AdmissionWorld{Images: map[string]string{}, Digests: map[string]string{}}
	defer func() {
		if err != nil {
			w.Close()
		}
	}()
	reg, err := StartRegistry(ctx, tools.Registry, filepath.Join(dir, "registry"))
	if err != nil {
		return nil, err
	}
	w.closers = append(w.closers, reg.Stop)
	w.Registry = reg.Addr()
	ca, err := NewOpenSSLCA(ctx, filepath.Join(dir, "ca"), CAOptions{NoOCSP: opts.NoOCSP})
	if err != nil {
		return nil, err
	}
	w.closers = append(w.closers, ca.Stop)
	other, err := NewOpenSSLCA(ctx, filepath.Join(dir, "other-ca"), CAOptions{NoOCSP: true, NoCRL: true})
	if err != nil {
		return nil, err
	}
	w.closers = append(w.closers, other.Stop)
	notation := NewNotation(tools.Notation, filepath.Join(dir, "notation"), nil)

	type leaf struct {
		name, subject string
		ca            *OpenSSLCA
	}
	leaves := []leaf{
		{"release", AdmissionSubject, ca},
		{"someone-else", "C=US, ST=WA, O=Someone Else, CN=release", ca},
		{"revoked", "C=US, ST=WA, O=Acme, CN=release", ca},
		{"untrusted", AdmissionSubject, other},
	}
	identities := []string{AdmissionIdentity}
	for i := 1; i <= opts.Signers; i++ {
		s := fmt.Sprintf("C=US, ST=WA, O=Acme, CN=signer-%d", i)
		leaves = append(leaves, leaf{fmt.Sprintf("signer-%d", i), s, ca})
		identities = append(identities, "x509.subject: "+s)
	}
	var keys []map[string]string
	certs := map[string]string{}
	for _, l := range leaves {
		cert, key, err := l.ca.IssueLeaf(l.name, l.subject)
		if err != nil {
			return nil, err
		}
		certs[l.name] = cert
		keys = append(keys, map[string]string{"name": l.name, "keyPath": key, "certPath": l.ca.ChainPath(l.name)})
	}
	if err := writeJSON(filepath.Join(notation.ConfigDir(), "signingkeys.json"), map[string]any{"default": "release", "keys": keys}); err != nil {
		return nil, err
	}

	push := func(repo, content string) (string, error) {
		ref := w.Registry + "/" + repo
		d, err := Push(ctx, tools.Oras, ref+":v1", filepath.Join(dir, "push"), []byte(content))
		if err != nil {
			return "", err
		}
		return ref + "@" + d, nil
	}
	sign := func(ref, key string) error {
		_, stderr, code, err := notation.Run(ctx, "sign", "--insecure-registry", "--key", key, ref)
		if err == nil && code != 0 {
			err = fmt.Errorf("e2e: notation sign --key %s %s exited %d: %s", key, ref, code, strings.TrimSpace(stderr))
		}
		return err
	}
	for _, img := range []struct{ name, key string }{
		{ImageSigned, "release"}, {ImageUnsigned, ""}, {ImageUntrusted, "untrusted"},
		{ImageWrongIdentity, "someone-else"}, {ImageRevoked, "revoked"},
	} {
		ref, err := push("admission/"+img.name, "admission image "+img.name)
		if err != nil {
			return nil, err
		}
		if img.key != "" {
			if err := sign(ref, img.key); err != nil {
				return nil, err
			}
		}
		w.Images[img.name] = w.Registry + "/admission/" + img.name + ":v1"
		w.Digests[img.name] = ref
	}
	if err := ca.Revoke(certs["revoked"], "keyCompromise"); err != nil {
		return nil, err
	}
	if err := ca.PublishCRL(); err != nil {
		return nil, err
	}
	for i := 0; i < opts.Bench; i++ {
		ref, err := push(fmt.Sprintf("bench/a%d", i), fmt.Sprintf("bench artifact %d", i))
		if err != nil {
			return nil, err
		}
		if err := sign(ref, fmt.Sprintf("signer-%d", i%max(opts.Signers, 1)+1)); err != nil {
			return nil, err
		}
		w.Bench = append(w.Bench, ref)
	}

	// The trust policy and trust store the verifiers read.
	conf := filepath.Join(dir, "trustpolicy")
	w.Policy, w.TrustStore, w.RootDir = filepath.Join(conf, "trustpolicy.json"), filepath.Join(conf, "truststore"), filepath.Join(conf, "root")
	doc := map[string]any{"version": "1.0", "trustPolicies": []any{map[string]any{
		"name": "admission", "registryScopes": []string{"*"}, "signatureVerification": map[string]any{"level": "strict"},
		"trustStores": []string{"ca:acme"}, "trustedIdentities": identities,
	}}}
	if w.PolicyDoc, err = json.Marshal(doc); err != nil {
		return nil, err
	}
	if err := writeJSON(w.Policy, doc); err != nil {
		return nil, err
	}
	root, err := os.ReadFile(ca.RootPath())
	if err != nil {
		return nil, err
	}
	for _, d := range []string{filepath.Join(w.TrustStore, "x509", "ca", "acme"), w.RootDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(d, "root.crt"), root, 0o644); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Close stops the registry and the CAs' servers.
func (w *AdmissionWorld) Close() error {
	var errs []error
	for i := len(w.closers) - 1; i >= 0; i-- {
		errs = append(errs, w.closers[i]())
	}
	w.closers = nil
	return errors.Join(errs...)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	return nil
}
