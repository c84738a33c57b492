package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	p11 "github.com/miekg/pkcs11"
)

// Key is a private key on a token, as a crypto.Signer and a
// crypto.MessageSigner. It signs with a mechanism the token offers (see
// SignMechanism): given the message (SignMessage, which crypto.SignMessage
// and x509 use), a hashing mechanism such as CKM_ECDSA_SHA256 when the token
// has one, else the raw mechanism over a digest made here; given a digest
// (Sign), the raw mechanism. ECDSA signatures are ASN.1 DER. RSA takes
// *rsa.PSSOptions (salt rsa.PSSSaltLengthEqualsHash or an explicit length;
// rsa.PSSSaltLengthAuto is refused) or a crypto.Hash for PKCS #1 v1.5.
// rand is ignored: the token brings its own randomness.
//
// A key with CKA_ALWAYS_AUTHENTICATE gets a context-specific login
// (C_Login with CKU_CONTEXT_SPECIFIC) before each signature.
//
// Safe for concurrent use; signatures are made one at a time.
type Key struct {
	t       *Token
	handle  p11.ObjectHandle
	pub     crypto.PublicKey
	id      []byte
	keyType uint // CKK_RSA or CKK_EC
	// alwaysAuth: CKA_ALWAYS_AUTHENTICATE is set on the private key.
	alwaysAuth bool
}

var (
	_ crypto.Signer        = (*Key)(nil)
	_ crypto.MessageSigner = (*Key)(nil)
)

// Public returns the key's public half, read when the key was found.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// ID returns the key's CKA_ID.
func (k *Key) ID() []byte { return k.id }

// AlwaysAuthenticate reports whether the key has CKA_ALWAYS_AUTHENTICATE:
// each signature needs a context-specific login, which the Key does.
func (k *Key) AlwaysAuthenticate() bool { return k.alwaysAuth }

// SignMechanism returns the mechanism SignMessage uses for opts: for
// Notation, pass pki.Algorithm.SignerOpts(). A *MechanismError (ErrMechanism)
// says that the token offers none that fits, and names the missing ones.
func (k *Key) SignMechanism(opts crypto.SignerOpts) (SignMechanism, error) {
	s, _, err := k.scheme(opts)
	if err != nil {
		return SignMechanism{}, err
	}
	return call(context.Background(), k.t, "reading the token's mechanisms", func() (SignMechanism, error) {
		k.t.mu.Lock()
		defer k.t.mu.Unlock()
		return k.t.choose(s, opts.HashFunc(), true)
	})
}

// choose picks the mechanism; call with t.mu held.
func (t *Token) choose(s scheme, h crypto.Hash, message bool) (SignMechanism, error) {
	mechs, err := t.signMechanisms()
	if err != nil {
		return SignMechanism{}, err
	}
	m, err := chooseMechanism(t.info.Label, s, h, func(c uint) bool { return mechs[c] }, message)
	var me *MechanismError
	if errors.As(err, &me) && !me.Digest {
		t.offered(me)
	}
	return m, err
}

// scheme checks opts against the key and returns the kind of signature and,
// for PSS, the salt length.
func (k *Key) scheme(opts crypto.SignerOpts) (scheme, int, error) {
	if opts == nil {
		return 0, 0, errors.New("no signer options: pass the hash (crypto.Hash) or *rsa.PSSOptions")
	}
	h := opts.HashFunc()
	if _, ok := hashName(h); !ok {
		return 0, 0, fmt.Errorf("%w: hash %v is not supported; use SHA-256, SHA-384 or SHA-512", ErrMechanism, h)
	}
	switch k.keyType {
	case p11.CKK_EC:
		if _, ok := opts.(*rsa.PSSOptions); ok {
			return 0, 0, errors.New("RSA-PSS options given for an EC key")
		}
		return schemeECDSA, 0, nil
	case p11.CKK_RSA:
		pss, ok := opts.(*rsa.PSSOptions)
		if !ok {
			return schemePKCS1v15, 0, nil
		}
		switch {
		case pss.SaltLength == rsa.PSSSaltLengthEqualsHash:
			return schemePSS, h.Size(), nil
		case pss.SaltLength > 0:
			return schemePSS, pss.SaltLength, nil
		}
		return 0, 0, errors.New("RSA-PSS salt length rsa.PSSSaltLengthAuto is not supported: name the length (rsa.PSSSaltLengthEqualsHash)")
	}
	return 0, 0, fmt.Errorf("key type 0x%x is neither RSA nor EC", k.keyType)
}

// Sign signs digest in the token within the token's time bound, with the
// raw mechanism (see Key).
func (k *Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.sign(digest, opts, false)
}

// SignMessage signs msg in the token within the token's time bound: with a
// hashing mechanism when the token has one, else it hashes msg here and
// uses the raw mechanism (see Key).
func (k *Key) SignMessage(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.sign(msg, opts, true)
}

func (k *Key) sign(data []byte, opts crypto.SignerOpts, message bool) ([]byte, error) {
	s, salt, err := k.scheme(opts)
	if err != nil {
		return nil, err
	}
	h := opts.HashFunc()
	if !message && len(data) != h.Size() {
		return nil, fmt.Errorf("the digest is %d bytes, but %v digests are %d", len(data), h, h.Size())
	}
	raw, err := call(context.Background(), k.t, "signing", func() ([]byte, error) {
		t := k.t
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.sess == nil {
			return nil, closedError(t.info.Label)
		}
		m, err := t.choose(s, h, message)
		if err != nil {
			return nil, err
		}
		in := data
		if message && m.LocalHash {
			d := h.New()
			d.Write(data)
			in = d.Sum(nil)
		}
		if s == schemePKCS1v15 && m.LocalHash {
			in = append(digestInfo(h), in...)
		}
		var params []byte
		if s == schemePSS {
			hash, mgf := pssParams(h)
			params = p11.NewPSSParams(hash, mgf, uint(salt))
		}
		return k.signOnce(m, params, in)
	})
	if err != nil {
		return nil, err
	}
	if k.keyType == p11.CKK_EC {
		return ecdsaDER(k.pub.(*ecdsa.PublicKey), raw)
	}
	return raw, nil
}

// signOnce runs C_SignInit, the context-specific login when the key needs
// it, and C_Sign on the logged-in session; call with t.mu held. A failure
// after C_SignInit may leave the operation active, so the session is then
// replaced (a new one first, so that the login stays).
func (k *Key) signOnce(m SignMechanism, params, in []byte) ([]byte, error) {
	t := k.t
	ctx, h := t.m.ctx, t.sess.h
	if err := ctx.SignInit(h, []*p11.Mechanism{p11.NewMechanism(m.Code, params)}, k.handle); err != nil {
		return nil, fmt.Errorf("C_SignInit with %s on token %q: %w", m.Name, t.info.Label, err)
	}
	if k.alwaysAuth {
		if err := ctx.Login(h, p11.CKU_CONTEXT_SPECIFIC, t.pin.value()); err != nil {
			t.replaceSession()
			return nil, contextLoginError(t.info.Label, err)
		}
	}
	sig, err := ctx.Sign(h, in)
	if err != nil {
		t.replaceSession()
		return nil, fmt.Errorf("C_Sign with %s on token %q: %w", m.Name, t.info.Label, err)
	}
	return sig, nil
}

// replaceSession swaps the logged-in session for a new one, so that no
// operation is left active; call with t.mu held. If no new session opens,
// the old one stays.
func (t *Token) replaceSession() {
	s, err := t.m.openSession(t.info.Slot, false)
	if err != nil {
		return
	}
	t.sess.close()
	t.sess = s
}

// ecdsaDER turns the token's r||s into ASN.1 DER, as crypto.Signer returns.
func ecdsaDER(pub *ecdsa.PublicKey, raw []byte) ([]byte, error) {
	n := (pub.Curve.Params().BitSize + 7) / 8
	if len(raw) != 2*n {
		return nil, fmt.Errorf("the token returned a %d-byte ECDSA signature, want r||s of %d bytes", len(raw), 2*n)
	}
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(raw[:n]))
		b.AddASN1BigInt(new(big.Int).SetBytes(raw[n:]))
	})
	return b.Bytes()
}

// digestInfo returns the DER DigestInfo prefix of PKCS #1 v1.5 signatures
// with hash h (RFC 8017 section 9.2, note 1), a new slice each call; nil for
// a hash this package does not sign with.
func digestInfo(h crypto.Hash) []byte {
	switch h {
	case crypto.SHA256:
		return []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	case crypto.SHA384:
		return []byte{0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30}
	case crypto.SHA512:
		return []byte{0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40}
	}
	return nil
}

// pssParams returns the CK_RSA_PKCS_PSS_PARAMS hash and MGF of hash h:
// MGF1 with the same hash.
func pssParams(h crypto.Hash) (hash, mgf uint) {
	switch h {
	case crypto.SHA256:
		return p11.CKM_SHA256, p11.CKG_MGF1_SHA256
	case crypto.SHA384:
		return p11.CKM_SHA384, p11.CKG_MGF1_SHA384
	case crypto.SHA512:
		return p11.CKM_SHA512, p11.CKG_MGF1_SHA512
	}
	return 0, 0
}

// findKey finds the one private key the URI names and its public half;
// call with t.mu held, logged in.
func (t *Token) findKey() (*Key, error) {
	s := t.sess
	hs, err := s.find(keyTemplate(p11.CKO_PRIVATE_KEY, t.uri))
	if err != nil {
		return nil, fmt.Errorf("failed to search private keys on token %q: %w", t.info.Label, err)
	}
	switch {
	case len(hs) == 0:
		return nil, fmt.Errorf("%w: no private key with %s on token %q (a key needs a CKA_ID and a public key or certificate with the same id)", ErrKeyNotFound, t.uri.KeyDescription(), t.info.Label)
	case len(hs) > 1:
		return nil, fmt.Errorf("%w: %d private keys match %s on token %q; add id= to the URI", ErrAmbiguous, len(hs), t.uri.KeyDescription(), t.info.Label)
	}
	return s.keyFor(hs[0], t)
}

// keyFor builds the Key for a private key object: its type, id,
// CKA_ALWAYS_AUTHENTICATE, and the public key from the public-key object or
// the certificate with its CKA_ID, or (RSA) from the private object itself.
func (s *session) keyFor(h p11.ObjectHandle, t *Token) (*Key, error) {
	v, err := s.attrs(h, p11.CKA_KEY_TYPE, p11.CKA_ID)
	if err != nil {
		return nil, err
	}
	kt, err := ulong(v[0])
	if err != nil {
		return nil, err
	}
	if kt != p11.CKK_RSA && kt != p11.CKK_EC {
		return nil, fmt.Errorf("the private key %s on token %q is of type 0x%x, neither RSA nor EC", t.uri.KeyDescription(), t.info.Label, kt)
	}
	k := &Key{t: t, handle: h, id: v[1], keyType: kt}
	// Not every token knows the attribute: an error means it is not set.
	if a, err := s.attrs(h, p11.CKA_ALWAYS_AUTHENTICATE); err == nil && len(a[0]) == 1 && a[0][0] != 0 {
		k.alwaysAuth = true
	}
	if k.pub, err = s.publicHalf(h, kt, k.id); err != nil {
		return nil, fmt.Errorf("private key %s on token %q: %w", t.uri.KeyDescription(), t.info.Label, err)
	}
	return k, nil
}

// fits reports whether pub is a public key of PKCS#11 key type kt.
func fits(pub crypto.PublicKey, kt uint) bool {
	switch pub.(type) {
	case *rsa.PublicKey:
		return kt == p11.CKK_RSA
	case *ecdsa.PublicKey:
		return kt == p11.CKK_EC
	}
	return false
}

func (s *session) publicHalf(h p11.ObjectHandle, kt uint, id []byte) (crypto.PublicKey, error) {
	if len(id) > 0 {
		pubs, err := s.find([]*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY), p11.NewAttribute(p11.CKA_KEY_TYPE, kt), p11.NewAttribute(p11.CKA_ID, id)})
		if err != nil {
			return nil, err
		}
		if len(pubs) > 0 {
			pub, err := s.exportPublic(pubs[0], ulongBytes(kt))
			if err != nil {
				return nil, fmt.Errorf("its public key object: %w", err)
			}
			return pub, nil
		}
		certs, err := s.certificates(p11.NewAttribute(p11.CKA_ID, id))
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			if fits(c.PublicKey, kt) {
				return c.PublicKey, nil
			}
		}
	}
	if kt == p11.CKK_RSA {
		if pub, err := s.exportPublic(h, ulongBytes(kt)); err == nil && fits(pub, kt) {
			return pub, nil
		}
	}
	return nil, fmt.Errorf("%w: no public key or certificate with its CKA_ID %X (a key needs a CKA_ID and a public key or certificate with the same id)", ErrKeyNotFound, id)
}

func ulongBytes(v uint) []byte {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return b
}
