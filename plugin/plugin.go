package plugin

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// Name is the plugin name: notation finds it as plugins/pkcs11/notation-pkcs11.
const Name = "pkcs11"

// maxChainFile caps the certificate_chain file.
const maxChainFile = 1 << 20

// Options configure a Plugin. Zero values pick the real environment.
type Options struct {
	Version string  // semver reported in metadata; "0.0.0-dev" when empty
	Backend Backend // HSM when nil
	// Getenv looks up NOTATION_PKCS11_MODULE, NOTATION_PKCS11_PIN and
	// the like. When nil, New reads the process environment and removes
	// NOTATION_PKCS11_PIN from it (pkcs11.TakePINEnv), so that the PKCS#11
	// module and the processes it starts do not inherit the PIN.
	Getenv  func(string) string
	Now     func() time.Time // time.Now when nil; the chain must be valid at this time
	Cache   *KeyCache        // nil disables the key-spec cache
	LockDir string           // where module lock files live; "" disables locking
}

// Plugin answers Notation plugin protocol requests. It implements the
// Plugin interface of notation-plugin-framework-go's package plugin, which
// this package imports as proto (its own name is plugin too).
type Plugin struct {
	version string
	backend Backend
	getenv  func(string) string
	now     func() time.Time
	cache   *KeyCache
	lockDir string
}

var _ proto.Plugin = (*Plugin)(nil)

// New returns a Plugin.
func New(o Options) *Plugin {
	p := &Plugin{version: o.Version, backend: o.Backend, getenv: o.Getenv, now: o.Now, cache: o.Cache, lockDir: o.LockDir}
	if p.version == "" {
		p.version = "0.0.0-dev"
	}
	if p.backend == nil {
		p.backend = HSM{}
	}
	if p.getenv == nil {
		// The PIN variable is taken out of the environment now, before
		// any module loads: modules start helper processes, and those
		// must not inherit it.
		pin := pkcs11.TakePINEnv()
		p.getenv = func(k string) string {
			if k == pkcs11.PINEnv {
				return pin
			}
			return os.Getenv(k)
		}
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p
}

// GetMetadata needs no configuration, HSM or PIN: `notation plugin install`
// calls it with an empty request.
func (p *Plugin) GetMetadata(context.Context, *proto.GetMetadataRequest) (*proto.GetMetadataResponse, error) {
	return &proto.GetMetadataResponse{
		Name:                      Name,
		Description:               "Signs with private keys held in a PKCS#11 hardware security module",
		Version:                   p.version,
		URL:                       "https://github.com/notation-pkcs11/notation-pkcs11",
		SupportedContractVersions: []string{proto.ContractVersion},
		Capabilities:              []proto.Capability{proto.CapabilitySignatureGenerator},
	}, nil
}

// keyRequest is what describe-key and generate-signature share: the parsed
// URI and config, and the module they point at.
type keyRequest struct {
	uri    *pkcs11.URI
	cfg    Config
	module string
}

func (p *Plugin) parseKeyRequest(contract, keyID string, pluginConfig map[string]string) (keyRequest, error) {
	cfg, err := ParseConfig(pluginConfig)
	return p.keyRequestFor(contract, keyID, cfg, err)
}

// keyRequestFor is parseKeyRequest with pluginConfig already parsed: cfg
// and cfgErr are what ParseConfig returned (reported after an unsupported
// contract version, as parseKeyRequest does).
func (p *Plugin) keyRequestFor(contract, keyID string, cfg Config, cfgErr error) (keyRequest, error) {
	if contract != proto.ContractVersion {
		return keyRequest{}, proto.NewUnsupportedContractVersionError(contract)
	}
	if cfgErr != nil {
		return keyRequest{}, cfgErr
	}
	u, err := pkcs11.ParseURI(keyID)
	if err != nil {
		return keyRequest{}, err
	}
	mod, err := modulePath(u, cfg, p.getenv)
	if err != nil {
		return keyRequest{}, err
	}
	return keyRequest{uri: u, cfg: cfg, module: mod}, nil
}

func (p *Plugin) cacheFor(r keyRequest) *KeyCache {
	if !r.cfg.KeyCache {
		return nil
	}
	return p.cache
}

// open opens the token, holding the module lock (shared, or exclusive to
// log in) unless pluginConfig hsm_lock is off.
func (p *Plugin) open(ctx context.Context, r keyRequest, exclusive bool) (Token, error) {
	return p.backend.Open(ctx, r.uri, p.lockOptions(r, exclusive))
}

// lockOptions are the module options for r: its module, timeout and, unless
// hsm_lock is off, the module's lock file.
func (p *Plugin) lockOptions(r keyRequest, exclusive bool) pkcs11.Options {
	opts := pkcs11.Options{ModulePath: r.module, Timeout: r.cfg.Timeout, Exclusive: exclusive}
	if r.cfg.HSMLock && p.lockDir != "" {
		sum := sha256.Sum256([]byte(r.module))
		opts.LockFile = filepath.Join(p.lockDir, hex.EncodeToString(sum[:8])+".lock")
	}
	return opts
}

// DescribeKey reports the key spec of the key the URI names: from the cache
// when an earlier describe-key or generate-signature recorded it (every
// generate-signature re-checks it), else from the token's public objects
// without logging in, and only if the token hides public keys by logging in.
func (p *Plugin) DescribeKey(ctx context.Context, req *proto.DescribeKeyRequest) (*proto.DescribeKeyResponse, error) {
	r, err := p.parseKeyRequest(req.ContractVersion, req.KeyID, req.PluginConfig)
	if err != nil {
		return nil, err
	}
	if ks, ok := p.cacheFor(r).Get(r.module, r.uri); ok {
		return &proto.DescribeKeyResponse{KeyID: req.KeyID, KeySpec: ks}, nil
	}
	pub, label, err := p.readPublicKey(ctx, r)
	if err != nil {
		return nil, err
	}
	ks, err := pki.KeySpecOf(pub)
	if err != nil {
		return nil, fmt.Errorf("key %s on token %q: %w", r.uri.KeyDescription(), label, err)
	}
	p.remember(r, ks, pub)
	return &proto.DescribeKeyResponse{KeyID: req.KeyID, KeySpec: ks}, nil
}

// readPublicKey reads the public key under the shared module lock without
// logging in. Some tokens keep public keys private: then, if a PIN is at
// hand, it takes the exclusive lock (as every login holds it), logs in and
// reads the key from the private key object, on the same module handle.
func (p *Plugin) readPublicKey(ctx context.Context, r keyRequest) (crypto.PublicKey, string, error) {
	tok, err := p.open(ctx, r, false)
	if err != nil {
		return nil, "", err
	}
	defer tok.Close()
	pub, _, err := tok.PublicKey(ctx)
	label := tok.Info().Label
	if !errors.Is(err, pkcs11.ErrKeyNotFound) {
		return pub, label, err
	}
	pin, pinErr := pkcs11.ReadPIN(r.uri, p.getenv)
	if pinErr != nil {
		return nil, label, fmt.Errorf("%w; logging in to look for the private key is not possible either: %w", err, pinErr)
	}
	if err := tok.LockExclusive(ctx); err != nil {
		return nil, label, err
	}
	key, err := tok.Login(ctx, pin)
	if err != nil {
		return nil, label, err
	}
	return key.Public(), label, nil
}

func (p *Plugin) remember(r keyRequest, ks proto.KeySpec, pub crypto.PublicKey) {
	if c := p.cacheFor(r); c != nil {
		if der, err := x509.MarshalPKIXPublicKey(pub); err == nil {
			c.Put(r.module, r.uri, ks, der)
		}
	}
}

// GenerateSignature hashes the payload, signs the digest in the HSM and
// returns the raw signature with the certificate chain, leaf first. Before
// signing it checks that the request's key spec and hash fit the real key,
// that the leaf certificate holds the key, and that the chain meets the
// Notary Project rules now; after signing it verifies the signature with the
// leaf certificate.
//
// With pluginConfig audit_log set, every request that got that far appends
// one AuditRecord, success or failure; a signature whose record cannot be
// written is withheld (fail closed).
func (p *Plugin) GenerateSignature(ctx context.Context, req *proto.GenerateSignatureRequest) (*proto.GenerateSignatureResponse, error) {
	rec := newAuditRecord(p.now(), req.Payload)
	rec.KeySpec = string(req.KeySpec)
	// pluginConfig is parsed once, here: the audit decision and the
	// signature use the same Config.
	cfg, cfgErr := ParseConfig(req.PluginConfig)
	resp, err := p.generateSignature(ctx, req, cfg, cfgErr, rec)
	if cfgErr != nil || cfg.AuditLog == "" {
		return resp, err
	}
	rec.AuditSigner = currentSigner()
	if err != nil {
		pe := ToProtocolError(err)
		rec.Outcome, rec.ErrorCode, rec.Error = "failure", string(pe.ErrCode), pe.Message
		if aerr := appendAudit(ctx, cfg.AuditLog, cfg.Timeout, rec); aerr != nil {
			return nil, fmt.Errorf("%w (%w)", err, aerr)
		}
		return nil, err
	}
	rec.Outcome = "success"
	if aerr := appendAudit(ctx, cfg.AuditLog, cfg.Timeout, rec); aerr != nil {
		return nil, fmt.Errorf("the signature was made but is withheld: %w", aerr)
	}
	return resp, nil
}

// generateSignature does the work of GenerateSignature, with the request's
// pluginConfig as ParseConfig returned it, and fills in rec as far as it
// gets.
func (p *Plugin) generateSignature(ctx context.Context, req *proto.GenerateSignatureRequest, cfg Config, cfgErr error, rec *AuditRecord) (*proto.GenerateSignatureResponse, error) {
	r, err := p.keyRequestFor(req.ContractVersion, req.KeyID, cfg, cfgErr)
	if err != nil {
		if u, uerr := pkcs11.ParseURI(req.KeyID); uerr == nil {
			rec.KeyID = u.String()
		}
		return nil, err
	}
	rec.KeyID = r.uri.String()
	alg, err := pki.AlgorithmFor(req.KeySpec)
	if err != nil {
		return nil, fmt.Errorf("%w: keySpec: %w", ErrRequest, err)
	}
	if req.Hash != alg.HashName {
		return nil, fmt.Errorf("%w: hashAlgorithm %s does not go with keySpec %s, which signs with %s", ErrRequest, req.Hash, req.KeySpec, alg.HashName)
	}
	var bundle []*x509.Certificate
	if r.cfg.CertificateChain != "" {
		if bundle, err = readBundle(r.cfg.CertificateChain); err != nil {
			return nil, err
		}
	}
	pin, err := pkcs11.ReadPIN(r.uri, p.getenv)
	if err != nil {
		return nil, err
	}
	// The open → login → key spec → chain step Doctor takes too.
	s, err := p.signingSession(ctx, r, bundle, pin, req.KeySpec)
	if err != nil {
		return nil, err
	}
	defer s.Token.Close()
	tok, key, actual, chain := s.Token, s.Key, s.Spec, s.Chain
	fp := sha256.Sum256(chain[0].Raw)
	rec.CertificateSHA256 = hex.EncodeToString(fp[:])
	if err := pki.CheckSigningChain(chain, p.now()); err != nil {
		return nil, err
	}
	h := alg.Hash.New()
	h.Write(req.Payload)
	digest := h.Sum(nil)
	// The message, not the digest: a token may offer only the hashing
	// mechanisms (pkcs11.Key picks; see SignMechanismFor).
	sig, err := crypto.SignMessage(key, nil, req.Payload, alg.SignerOpts())
	if err != nil {
		return nil, fmt.Errorf("failed to sign with %s on token %q: %w", r.uri.KeyDescription(), tok.Info().Label, err)
	}
	if alg.ECDSA {
		if sig, err = pki.ECDSARaw(key.Public().(*ecdsa.PublicKey), sig); err != nil {
			return nil, fmt.Errorf("the HSM returned an unusable signature: %w", err)
		}
	}
	if err := verify(chain[0].PublicKey, alg, digest, sig); err != nil {
		return nil, err
	}
	p.remember(r, actual, key.Public())
	raw := make([][]byte, len(chain))
	for i, c := range chain {
		raw[i] = c.Raw
	}
	return &proto.GenerateSignatureResponse{
		KeyID:            req.KeyID,
		Signature:        sig,
		SigningAlgorithm: alg.Signature,
		CertificateChain: raw,
	}, nil
}

// GenerateEnvelope is not offered: notation builds the envelope around the
// raw signature (SIGNATURE_GENERATOR.RAW).
func (p *Plugin) GenerateEnvelope(context.Context, *proto.GenerateEnvelopeRequest) (*proto.GenerateEnvelopeResponse, error) {
	return nil, unsupported(proto.CommandGenerateEnvelope)
}

// VerifySignature is not offered: this plugin only signs.
func (p *Plugin) VerifySignature(context.Context, *proto.VerifySignatureRequest) (*proto.VerifySignatureResponse, error) {
	return nil, unsupported(proto.CommandVerifySignature)
}

func unsupported(c proto.Command) error {
	return proto.NewError(proto.ErrorCodeValidation, fmt.Sprintf("%s is not supported: the %s plugin has only the %s capability (describe-key, generate-signature)", c, Name, proto.CapabilitySignatureGenerator))
}
