package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Notation runs the notation CLI isolated from the user's configuration:
// NOTATION_CONFIG, NOTATION_CACHE and NOTATION_LIBEXEC point into a folder
// of its own.
type Notation struct {
	bin, dir string
	env      []string
}

// NewNotation returns a Notation that runs bin with its state under dir
// (dir/config, dir/cache, dir/libexec; created on first use). extraEnv
// ("K=V" entries, for example SOFTHSM2_CONF and NOTATION_PKCS11_PIN) is
// passed to notation and so to its plugins; it is applied last and wins.
func NewNotation(bin, dir string, extraEnv []string) *Notation {
	env := append(baseEnv(),
		"NOTATION_CONFIG="+filepath.Join(dir, "config"),
		"NOTATION_CACHE="+filepath.Join(dir, "cache"),
		"NOTATION_LIBEXEC="+filepath.Join(dir, "libexec"),
	)
	env = append(env, extraEnv...)
	return &Notation{bin: bin, dir: dir, env: env}
}

// ConfigDir is NOTATION_CONFIG: trustpolicy.json, truststore/, signingkeys.json.
func (n *Notation) ConfigDir() string { return filepath.Join(n.dir, "config") }

// LibexecDir is NOTATION_LIBEXEC; plugins go in LibexecDir()/plugins/NAME/notation-NAME.
func (n *Notation) LibexecDir() string { return filepath.Join(n.dir, "libexec") }

// Env returns a copy of the environment notation runs with.
func (n *Notation) Env() []string { return append([]string(nil), n.env...) }

// Run runs notation with args. A non-zero exit is reported through exitCode
// with err nil; err is set only when notation could not be started or was
// killed (for example because ctx ended).
func (n *Notation) Run(ctx context.Context, args ...string) (stdout, stderr string, exitCode int, err error) {
	if err := n.mkdirs(); err != nil {
		return "", "", -1, err
	}
	return run(ctx, n.env, "", n.bin, args...)
}

// WriteTrustPolicy writes doc as ConfigDir()/trustpolicy.json, the only
// trust policy file notation v1.3.2 reads. doc is marshalled to JSON, except
// that a []byte is written as is (to test malformed policies).
func (n *Notation) WriteTrustPolicy(doc any) error {
	data, ok := doc.([]byte)
	if !ok {
		var err error
		if data, err = json.MarshalIndent(doc, "", "  "); err != nil {
			return fmt.Errorf("e2e: encoding trust policy: %w", err)
		}
	}
	if err := n.mkdirs(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(n.ConfigDir(), "trustpolicy.json"), data, 0o600); err != nil {
		return fmt.Errorf("e2e: writing trust policy: %w", err)
	}
	return nil
}

// AddCert adds the certificate file certPath to the trust store
// storeType:storeName ("ca", "signingAuthority" or "tsa") with
// notation cert add.
func (n *Notation) AddCert(storeType, storeName, certPath string) error {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	if err := n.mkdirs(); err != nil {
		return err
	}
	_, err := runOK(ctx, n.env, "", n.bin, "cert", "add", "--type", storeType, "--store", storeName, certPath)
	return err
}

func (n *Notation) mkdirs() error {
	for _, d := range []string{n.ConfigDir(), filepath.Join(n.dir, "cache"), n.LibexecDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("e2e: %w", err)
		}
	}
	return nil
}

// StrictPolicy returns a notation v1.3.2 trustpolicy.json document with one
// statement "e2e" that applies to every registry, verifies at level strict
// against the trust store ca:storeName and trusts the given identities
// (for example "x509.subject: C=US, ST=WA, O=Org, CN=leaf"), or every
// identity ("*") when none are given.
func StrictPolicy(storeName string, identities ...string) map[string]any {
	if len(identities) == 0 {
		identities = []string{"*"}
	}
	return map[string]any{
		"version": "1.0",
		"trustPolicies": []any{
			map[string]any{
				"name":                  "e2e",
				"registryScopes":        []string{"*"},
				"signatureVerification": map[string]any{"level": "strict"},
				"trustStores":           []string{"ca:" + storeName},
				"trustedIdentities":     identities,
			},
		},
	}
}
