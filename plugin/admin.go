package plugin

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// The operations in this file serve the human subcommands of the
// notation-pkcs11 binary (token list, key list/generate, csr, cert import).
// They resolve the module, the PIN and the module lock exactly as the
// protocol commands do, and need a backend with the admin methods
// (adminBackend, adminToken): HSM, or a test fake.

// ErrNeedsHSM: an admin operation was asked of a Backend (or a token) that
// cannot do it: one without the adminBackend or adminToken methods.
var ErrNeedsHSM = errors.New("this operation needs a real PKCS#11 token")

// adminBackend is a Backend that also lists the module's tokens; HSM is
// one, and so are the tests' fakes.
type adminBackend interface {
	Backend
	ListTokens(ctx context.Context, modulePath string, opts pkcs11.Options) ([]pkcs11.TokenInfo, error)
}

// ListTokens describes the slots of the module at modulePath.
func (HSM) ListTokens(ctx context.Context, modulePath string, opts pkcs11.Options) ([]pkcs11.TokenInfo, error) {
	return pkcs11.ListTokens(ctx, modulePath, opts)
}

// adminToken is what the admin operations need beyond Token; the real
// token (hsmToken) has it.
type adminToken interface {
	Token
	// GenerateKeyPair logs in and generates a key pair of type kt,
	// labelled and identified as the URI the token was opened with says,
	// and returns its public key.
	GenerateKeyPair(ctx context.Context, pin pkcs11.PIN, kt pkcs11.KeyType) (crypto.PublicKey, error)
	ImportCertificate(ctx context.Context, pin pkcs11.PIN, id []byte, label string, cert *x509.Certificate) error
	Keys(ctx context.Context) ([]pkcs11.KeyInfo, error)
}

// GenerateKeyPair is pkcs11.Token.GenerateKey.
func (t hsmToken) GenerateKeyPair(ctx context.Context, pin pkcs11.PIN, kt pkcs11.KeyType) (crypto.PublicKey, error) {
	k, err := t.Token.GenerateKey(ctx, pin, kt)
	if err != nil {
		return nil, err
	}
	return k.Public(), nil
}

// adminRequest parses a URI and pluginConfig for an admin operation. With
// tokenOnly the URI names a token, not a key.
func (p *Plugin) adminRequest(uri string, pluginConfig map[string]string, tokenOnly bool) (keyRequest, error) {
	cfg, err := ParseConfig(pluginConfig)
	if err != nil {
		return keyRequest{}, err
	}
	var u *pkcs11.URI
	if tokenOnly {
		u, err = pkcs11.ParseTokenURI(uri)
	} else {
		u, err = pkcs11.ParseURI(uri)
	}
	if err != nil {
		return keyRequest{}, err
	}
	mod, err := modulePath(u, cfg, p.getenv)
	if err != nil {
		return keyRequest{}, err
	}
	return keyRequest{uri: u, cfg: cfg, module: mod}, nil
}

func (p *Plugin) openAdmin(ctx context.Context, r keyRequest, exclusive bool) (adminToken, error) {
	tok, err := p.open(ctx, r, exclusive)
	if err != nil {
		return nil, err
	}
	at, ok := tok.(adminToken)
	if !ok {
		_ = tok.Close()
		return nil, ErrNeedsHSM
	}
	return at, nil
}

// ListTokens describes the slots of the module that pluginConfig
// module_path or NOTATION_PKCS11_MODULE names. It returns the module path.
func (p *Plugin) ListTokens(ctx context.Context, pluginConfig map[string]string) ([]pkcs11.TokenInfo, string, error) {
	cfg, err := ParseConfig(pluginConfig)
	if err != nil {
		return nil, "", err
	}
	mod, err := modulePath(&pkcs11.URI{}, cfg, p.getenv)
	if err != nil {
		return nil, "", err
	}
	lister, ok := p.backend.(adminBackend)
	if !ok {
		return nil, mod, ErrNeedsHSM
	}
	r := keyRequest{uri: &pkcs11.URI{}, cfg: cfg, module: mod}
	tokens, err := lister.ListTokens(ctx, mod, p.lockOptions(r, false))
	return tokens, mod, err
}

// KeyListing is one key of ListKeys.
type KeyListing struct {
	pkcs11.KeyInfo
	// URI names the key (token, object, id, and the token URI's query).
	URI     *pkcs11.URI
	KeySpec string // "" when Notation cannot sign with the key
}

// ListKeys lists the key pairs on the token the URI names, without
// logging in.
func (p *Plugin) ListKeys(ctx context.Context, tokenURI string, pluginConfig map[string]string) ([]KeyListing, pkcs11.TokenInfo, error) {
	r, err := p.adminRequest(tokenURI, pluginConfig, true)
	if err != nil {
		return nil, pkcs11.TokenInfo{}, err
	}
	tok, err := p.openAdmin(ctx, r, false)
	if err != nil {
		return nil, pkcs11.TokenInfo{}, err
	}
	defer tok.Close()
	keys, err := tok.Keys(ctx)
	if err != nil {
		return nil, tok.Info(), err
	}
	out := make([]KeyListing, len(keys))
	for i, k := range keys {
		u := keyURIOn(r.uri, tok.Info().Label, k.Label, k.ID)
		out[i] = KeyListing{KeyInfo: k, URI: u}
		if k.Public != nil {
			if ks, err := pki.KeySpecOf(k.Public); err == nil {
				out[i].KeySpec = string(ks)
			}
		}
	}
	return out, tok.Info(), nil
}

// keyURI is the URI of a key on the token base names: base's token
// selector and query attributes, the token's label when base selects it
// otherwise, and the key's label and id.
func keyURIOn(base *pkcs11.URI, tokenLabel, label string, id []byte) *pkcs11.URI {
	u := *base
	if u.Token == "" && u.Serial == "" && u.SlotID == nil {
		u.Token = tokenLabel
	}
	u.Object, u.ID, u.Type = label, id, ""
	return &u
}

// GenerateKey generates a key pair of type kt on the token the URI names,
// labelled label with CKA_ID id (8 random bytes when id is empty). The
// private key is sensitive and never extractable. It returns the new key's
// URI and key spec.
func (p *Plugin) GenerateKey(ctx context.Context, tokenURI string, pluginConfig map[string]string, kt pkcs11.KeyType, label string, id []byte) (*pkcs11.URI, string, error) {
	r, err := p.adminRequest(tokenURI, pluginConfig, true)
	if err != nil {
		return nil, "", err
	}
	if label == "" {
		return nil, "", fmt.Errorf("%w: the key needs a label", ErrRequest)
	}
	if len(id) == 0 {
		id = make([]byte, 8)
		if _, err := rand.Read(id); err != nil {
			return nil, "", err
		}
	}
	pin, err := pkcs11.ReadPIN(r.uri, p.getenv)
	if err != nil {
		return nil, "", err
	}
	base := r.uri
	r.uri = keyURIOn(base, "", label, id)
	tok, err := p.openAdmin(ctx, r, true)
	if err != nil {
		return nil, "", err
	}
	defer tok.Close()
	pub, err := tok.GenerateKeyPair(ctx, pin, kt)
	if err != nil {
		return nil, "", err
	}
	ks, err := pki.KeySpecOf(pub)
	if err != nil {
		return nil, "", err
	}
	return keyURIOn(base, tok.Info().Label, label, id), string(ks), nil
}

// CreateCSR makes a PKCS#10 request for the key the URI names, signed in
// the HSM, with the Notary Project signing extensions (see pki.CreateCSR).
func (p *Plugin) CreateCSR(ctx context.Context, keyID string, pluginConfig map[string]string, subject pkix.Name) ([]byte, string, error) {
	r, err := p.adminRequest(keyID, pluginConfig, false)
	if err != nil {
		return nil, "", err
	}
	pin, err := pkcs11.ReadPIN(r.uri, p.getenv)
	if err != nil {
		return nil, "", err
	}
	tok, err := p.open(ctx, r, true)
	if err != nil {
		return nil, "", err
	}
	defer tok.Close()
	key, err := tok.Login(ctx, pin)
	if err != nil {
		return nil, "", err
	}
	ks, err := pki.KeySpecOf(key.Public())
	if err != nil {
		return nil, "", fmt.Errorf("key %s on token %q: %w", r.uri.KeyDescription(), tok.Info().Label, err)
	}
	der, err := pki.CreateCSR(key, subject)
	return der, string(ks), err
}

// ImportResult says what ImportCertificates stored.
type ImportResult struct {
	Chain []*x509.Certificate
	// Imported are the certificates written to the token; the others of
	// the chain were there already.
	Imported []*x509.Certificate
}

// ImportCertificates stores the certificate of the key the URI names on
// the token, with the key's CKA_ID and label, and the issuers of its chain
// that the token does not hold yet. Before it writes anything it checks
// that one of certs holds the key's public key and that the chain it
// builds (from certs and the certificates already on the token) meets the
// Notary Project signing rules now, exactly as generate-signature will.
func (p *Plugin) ImportCertificates(ctx context.Context, keyID string, pluginConfig map[string]string, certs []*x509.Certificate) (*ImportResult, error) {
	r, err := p.adminRequest(keyID, pluginConfig, false)
	if err != nil {
		return nil, err
	}
	pin, err := pkcs11.ReadPIN(r.uri, p.getenv)
	if err != nil {
		return nil, err
	}
	tok, err := p.openAdmin(ctx, r, true)
	if err != nil {
		return nil, err
	}
	defer tok.Close()
	key, err := tok.Login(ctx, pin)
	if err != nil {
		return nil, err
	}
	now := p.now()
	leaf, err := pki.FindLeafAt(key.Public(), certs, now)
	if err != nil {
		return nil, fmt.Errorf("%w; the files (%s) must hold the certificate issued for key %s (make it from this key's csr)", err, subjects(certs), r.uri.KeyDescription())
	}
	pool := pki.PoolFinder(certs)
	chain, err := pki.BuildChain(leaf, func(raw []byte) ([]*x509.Certificate, error) {
		own, _ := pool(raw)
		onToken, err := tok.CertificatesBySubject(ctx, raw)
		return append(own, onToken...), err
	})
	if err != nil {
		return nil, err
	}
	if err := pki.CheckSigningChain(chain, now); err != nil {
		return nil, err
	}
	res := &ImportResult{Chain: chain}
	label := r.uri.Object
	if label == "" {
		label = fmt.Sprintf("%x", key.ID())
	}
	for i, c := range chain {
		var present []*x509.Certificate
		if i == 0 {
			present, err = tok.CertificatesByID(ctx, key.ID())
		} else {
			present, err = tok.CertificatesBySubject(ctx, c.RawSubject)
		}
		if err != nil {
			return res, err
		}
		if containsCert(present, c) {
			continue
		}
		id, lbl := key.ID(), label
		if i > 0 {
			id, lbl = c.SubjectKeyId, c.Subject.CommonName
			if lbl == "" {
				lbl = c.Subject.String()
			}
		}
		if err := tok.ImportCertificate(ctx, pin, id, lbl, c); err != nil {
			return res, err
		}
		res.Imported = append(res.Imported, c)
	}
	return res, nil
}

func containsCert(certs []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range certs {
		if x.Equal(c) {
			return true
		}
	}
	return false
}
