package trustpolicy

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// ConfigEnv is the environment variable notation reads for its configuration
// folder; the policy and trust stores live under it.
const ConfigEnv = "NOTATION_CONFIG"

// Paths is where the policy document and trust stores are.
type Paths struct {
	// Policy is the trust policy file (notation: $NOTATION_CONFIG/trustpolicy.json).
	Policy string
	// TrustStore is the folder that holds x509/ (notation:
	// $NOTATION_CONFIG/truststore).
	TrustStore string
}

// DefaultPaths returns notation v1.3's locations: under $NOTATION_CONFIG, or
// else under the user's config folder (os.UserConfigDir()/notation).
func DefaultPaths(getenv func(string) string) (Paths, error) {
	dir := getenv(ConfigEnv)
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return Paths{}, errors.New("trustpolicy: cannot find notation's config folder: set " + ConfigEnv + " or pass --policy and --truststore")
		}
		dir = filepath.Join(base, "notation")
	}
	return Paths{Policy: filepath.Join(dir, "trustpolicy.json"), TrustStore: filepath.Join(dir, "truststore")}, nil
}

// Load reads and compiles the policy, loads every trust store it names and
// returns an Engine. A store that fails to load does not fail Load: as in
// notation, its error is reported by the verifications that use it.
func Load(p Paths, rev revocation.Checker) (*Engine, error) {
	doc, err := LoadDocument(p.Policy)
	if err != nil {
		return nil, err
	}
	pol, err := Compile(doc)
	if err != nil {
		return nil, err
	}
	return New(Config{Policy: pol, Stores: truststore.Load(p.TrustStore, pol.StoreRefs()), Revocation: rev})
}

// StoreRefs returns every store the policy names, once each, in document
// order.
func (p *Policy) StoreRefs() []truststore.Ref {
	var refs []truststore.Ref
	seen := map[truststore.Ref]bool{}
	for _, r := range p.Rules() {
		for _, s := range r.Stores {
			if !seen[s] {
				seen[s] = true
				refs = append(refs, s)
			}
		}
	}
	return refs
}
