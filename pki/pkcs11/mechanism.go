package pkcs11

import (
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strings"

	p11 "github.com/miekg/pkcs11"
)

// ErrMechanism: the token offers no mechanism that makes the signature
// asked for with this key (see MechanismError).
var ErrMechanism = errors.New("the token cannot make this signature")

// SignMechanism is how a key makes one kind of signature on its token: the
// PKCS#11 mechanism, and whether this process hashes the message (a raw
// mechanism such as CKM_ECDSA signs the digest) or the token does (a hashing
// mechanism such as CKM_ECDSA_SHA256 takes the message).
type SignMechanism struct {
	Name      string      `json:"name"`      // e.g. "CKM_ECDSA"
	Code      uint        `json:"code"`      // the CKM_ value
	Hash      crypto.Hash `json:"-"`         // the hash of the signature
	HashName  string      `json:"hash"`      // e.g. "SHA-256"
	LocalHash bool        `json:"localHash"` // this process hashes; the token signs the digest
}

// String describes the mechanism in one line, e.g. "CKM_ECDSA over a SHA-256
// digest made by the plugin" or "CKM_ECDSA_SHA256 (the token hashes)".
func (m SignMechanism) String() string {
	if m.LocalHash {
		return fmt.Sprintf("%s over a %s digest made by the plugin", m.Name, m.HashName)
	}
	return m.Name + " (the token hashes)"
}

// scheme is a kind of signature.
type scheme int

const (
	schemeECDSA scheme = iota
	schemePSS
	schemePKCS1v15
)

func (s scheme) String() string {
	return [...]string{"ECDSA", "RSASSA-PSS", "RSASSA-PKCS1-v1_5"}[s]
}

// schemes lists the kinds of signature, and signHashes the hashes a
// signature here may use.
func schemes() []scheme { return []scheme{schemeECDSA, schemePSS, schemePKCS1v15} }

func signHashes() []crypto.Hash { return []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} }

// rawMechanism is the mechanism that makes a signature of kind s over a
// digest.
func rawMechanism(s scheme) uint {
	switch s {
	case schemePSS:
		return p11.CKM_RSA_PKCS_PSS
	case schemePKCS1v15:
		return p11.CKM_RSA_PKCS
	}
	return p11.CKM_ECDSA
}

// hashingMechanism is the mechanism that makes a signature of kind s with
// hash h over the message; 0 for a hash not in signHashes.
func hashingMechanism(s scheme, h crypto.Hash) uint {
	type key struct {
		s scheme
		h crypto.Hash
	}
	switch (key{s, h}) {
	case key{schemeECDSA, crypto.SHA256}:
		return p11.CKM_ECDSA_SHA256
	case key{schemeECDSA, crypto.SHA384}:
		return p11.CKM_ECDSA_SHA384
	case key{schemeECDSA, crypto.SHA512}:
		return p11.CKM_ECDSA_SHA512
	case key{schemePSS, crypto.SHA256}:
		return p11.CKM_SHA256_RSA_PKCS_PSS
	case key{schemePSS, crypto.SHA384}:
		return p11.CKM_SHA384_RSA_PKCS_PSS
	case key{schemePSS, crypto.SHA512}:
		return p11.CKM_SHA512_RSA_PKCS_PSS
	case key{schemePKCS1v15, crypto.SHA256}:
		return p11.CKM_SHA256_RSA_PKCS
	case key{schemePKCS1v15, crypto.SHA384}:
		return p11.CKM_SHA384_RSA_PKCS
	case key{schemePKCS1v15, crypto.SHA512}:
		return p11.CKM_SHA512_RSA_PKCS
	}
	return 0
}

// mechName names the mechanisms this package uses, and those a token
// commonly offers for signing, for messages; ok is false for others.
func mechName(code uint) (name string, ok bool) {
	switch code {
	case p11.CKM_ECDSA:
		return "CKM_ECDSA", true
	case p11.CKM_ECDSA_SHA1:
		return "CKM_ECDSA_SHA1", true
	case p11.CKM_ECDSA_SHA224:
		return "CKM_ECDSA_SHA224", true
	case p11.CKM_ECDSA_SHA256:
		return "CKM_ECDSA_SHA256", true
	case p11.CKM_ECDSA_SHA384:
		return "CKM_ECDSA_SHA384", true
	case p11.CKM_ECDSA_SHA512:
		return "CKM_ECDSA_SHA512", true
	case p11.CKM_RSA_PKCS:
		return "CKM_RSA_PKCS", true
	case p11.CKM_RSA_PKCS_PSS:
		return "CKM_RSA_PKCS_PSS", true
	case p11.CKM_RSA_X_509:
		return "CKM_RSA_X_509", true
	case p11.CKM_MD5_RSA_PKCS:
		return "CKM_MD5_RSA_PKCS", true
	case p11.CKM_SHA1_RSA_PKCS:
		return "CKM_SHA1_RSA_PKCS", true
	case p11.CKM_SHA224_RSA_PKCS:
		return "CKM_SHA224_RSA_PKCS", true
	case p11.CKM_SHA256_RSA_PKCS:
		return "CKM_SHA256_RSA_PKCS", true
	case p11.CKM_SHA384_RSA_PKCS:
		return "CKM_SHA384_RSA_PKCS", true
	case p11.CKM_SHA512_RSA_PKCS:
		return "CKM_SHA512_RSA_PKCS", true
	case p11.CKM_SHA1_RSA_PKCS_PSS:
		return "CKM_SHA1_RSA_PKCS_PSS", true
	case p11.CKM_SHA224_RSA_PKCS_PSS:
		return "CKM_SHA224_RSA_PKCS_PSS", true
	case p11.CKM_SHA256_RSA_PKCS_PSS:
		return "CKM_SHA256_RSA_PKCS_PSS", true
	case p11.CKM_SHA384_RSA_PKCS_PSS:
		return "CKM_SHA384_RSA_PKCS_PSS", true
	case p11.CKM_SHA512_RSA_PKCS_PSS:
		return "CKM_SHA512_RSA_PKCS_PSS", true
	case p11.CKM_DSA:
		return "CKM_DSA", true
	}
	return "", false
}

// MechanismName returns the CKM_ name of a mechanism, or its number in hex.
func MechanismName(code uint) string {
	if n, ok := mechName(code); ok {
		return n
	}
	return fmt.Sprintf("0x%X", code)
}

// hashName names the hashes a signature here may use; ok is false for
// any other.
func hashName(h crypto.Hash) (name string, ok bool) {
	switch h {
	case crypto.SHA256:
		return "SHA-256", true
	case crypto.SHA384:
		return "SHA-384", true
	case crypto.SHA512:
		return "SHA-512", true
	}
	return "", false
}

// MechanismError says that a token offers none of the mechanisms that make
// a signature. It wraps ErrMechanism.
type MechanismError struct {
	Token     string   // label of the token
	Signature string   // e.g. "ECDSA with SHA-256"
	Missing   []string // the mechanisms that would do, none of which the token offers
	Offered   []string // the signing mechanisms the token does offer
	// Digest is set when only a hashing mechanism is offered and the
	// caller gave a digest (crypto.Signer.Sign) instead of the message
	// (SignMessage).
	Digest bool
}

func (e *MechanismError) Error() string {
	offered := "none"
	if len(e.Offered) > 0 {
		offered = strings.Join(e.Offered, ", ")
	}
	if e.Digest {
		return fmt.Sprintf("%s: token %q signs %s only with %s, which hashes the message itself, but was given a digest (sign the message with crypto.SignMessage)",
			ErrMechanism, e.Token, e.Signature, strings.Join(e.Missing, ", "))
	}
	return fmt.Sprintf("%s: token %q cannot sign %s: it offers none of %s for signing (its signing mechanisms: %s); use a key type this token signs with, or another token",
		ErrMechanism, e.Token, e.Signature, strings.Join(e.Missing, ", "), offered)
}

func (e *MechanismError) Unwrap() error { return ErrMechanism }

// chooseMechanism picks the mechanism for a signature of kind s with hash h
// among those canSign accepts: with the message at hand, the hashing
// mechanism first, else the raw one (with local hashing); with only a
// digest, the raw one. Its *MechanismError lacks Offered, which the caller
// fills in.
func chooseMechanism(token string, s scheme, h crypto.Hash, canSign func(uint) bool, message bool) (SignMechanism, error) {
	hn, ok := hashName(h)
	if !ok {
		return SignMechanism{}, fmt.Errorf("%w: %s with hash %v is not supported; use SHA-256, SHA-384 or SHA-512", ErrMechanism, s, h)
	}
	hashed, raw := hashingMechanism(s, h), rawMechanism(s)
	if message && canSign(hashed) {
		return SignMechanism{Name: MechanismName(hashed), Code: hashed, Hash: h, HashName: hn}, nil
	}
	if canSign(raw) {
		return SignMechanism{Name: MechanismName(raw), Code: raw, Hash: h, HashName: hn, LocalHash: true}, nil
	}
	e := &MechanismError{Token: token, Signature: s.String() + " with " + hn, Missing: []string{MechanismName(hashed), MechanismName(raw)}}
	if !message && canSign(hashed) {
		e.Missing, e.Digest = []string{MechanismName(hashed)}, true
	}
	return SignMechanism{}, e
}

// usable lists every mechanism this package may sign with.
func usable() map[uint]bool {
	out := map[uint]bool{}
	for _, s := range schemes() {
		out[rawMechanism(s)] = true
		for _, h := range signHashes() {
			out[hashingMechanism(s, h)] = true
		}
	}
	return out
}

// signMechanisms reads, once per Token, the mechanisms the token lists and
// which of those this package may use sign (CKF_SIGN). Call with t.mu held.
func (t *Token) signMechanisms() (map[uint]bool, error) {
	if t.mechs != nil {
		return t.mechs, nil
	}
	list, err := t.m.ctx.GetMechanismList(t.info.Slot)
	if err != nil {
		return nil, fmt.Errorf("failed to read the mechanisms of token %q: %w", t.info.Label, err)
	}
	use := usable()
	mechs := make(map[uint]bool, len(list))
	for _, m := range list {
		mechs[m.Mechanism] = use[m.Mechanism] && t.signs(m.Mechanism)
	}
	t.mechs = mechs
	return mechs, nil
}

// signs reports whether the token's mechanism info has CKF_SIGN.
func (t *Token) signs(m uint) bool {
	info, err := t.m.ctx.GetMechanismInfo(t.info.Slot, []*p11.Mechanism{p11.NewMechanism(m, nil)})
	return err == nil && info.Flags&p11.CKF_SIGN != 0
}

// offered fills in e.Offered: the named mechanisms the token lists that
// sign. Call with t.mu held, after signMechanisms.
func (t *Token) offered(e *MechanismError) {
	use := usable()
	for m, ok := range t.mechs {
		if _, named := mechName(m); named && (ok || !use[m] && t.signs(m)) {
			e.Offered = append(e.Offered, MechanismName(m))
		}
	}
	slices.Sort(e.Offered)
}
