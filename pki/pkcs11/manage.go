package pkcs11

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/ThalesGroup/crypto11"
	p11 "github.com/miekg/pkcs11"
)

// KeyType names a key kind Notation can sign with.
type KeyType string

// The key types GenerateKey accepts.
const (
	RSA2048 KeyType = "rsa-2048"
	RSA3072 KeyType = "rsa-3072"
	RSA4096 KeyType = "rsa-4096"
	EC256   KeyType = "ec-256"
	EC384   KeyType = "ec-384"
	EC521   KeyType = "ec-521"
)

// KeyTypes lists every KeyType.
func KeyTypes() []KeyType { return []KeyType{RSA2048, RSA3072, RSA4096, EC256, EC384, EC521} }

// ParseKeyType accepts the names in KeyTypes, case-insensitively.
func ParseKeyType(s string) (KeyType, error) {
	for _, k := range KeyTypes() {
		if strings.EqualFold(s, string(k)) {
			return k, nil
		}
	}
	names := make([]string, 0, 6)
	for _, k := range KeyTypes() {
		names = append(names, string(k))
	}
	return "", fmt.Errorf("unknown key type %q; want one of %s", s, strings.Join(names, ", "))
}

// GenerateKey logs in and generates a key pair on the token, labelled and
// identified as the URI says (object= and id= are both required). The
// private key is a token object, sensitive, never extractable, and usable
// only to sign. It refuses to create a second key with the same id or label
// with a *KeyExistsError that names the existing key.
func (t *Token) GenerateKey(ctx context.Context, pin PIN, kt KeyType) (*Key, error) {
	if t.uri.Object == "" || len(t.uri.ID) == 0 {
		return nil, fmt.Errorf("%w: a new key needs both object=<label> and id=<CKA_ID> in the URI", ErrInvalidURI)
	}
	if err := t.login(ctx, pin); err != nil {
		return nil, err
	}
	var key *Key
	err := t.do(ctx, "generating a key", func() error {
		if err := t.checkNoKey(); err != nil {
			return err
		}
		pub, err := crypto11.NewAttributeSetWithIDAndLabel(t.uri.ID, []byte(t.uri.Object))
		if err != nil {
			return err
		}
		priv := pub.Copy()
		if err := priv.Set(crypto11.CkaPrivate, true); err != nil {
			return err
		}
		// Sign only: no unwrapping (or decrypting, or deriving, below).
		priv[p11.CKA_UNWRAP] = p11.NewAttribute(p11.CKA_UNWRAP, false)
		pub[p11.CKA_WRAP] = p11.NewAttribute(p11.CKA_WRAP, false)
		var s crypto11.Signer
		switch kt {
		case RSA2048, RSA3072, RSA4096:
			bits := map[KeyType]int{RSA2048: 2048, RSA3072: 3072, RSA4096: 4096}[kt]
			for _, a := range []*p11.Attribute{p11.NewAttribute(p11.CKA_DECRYPT, false)} {
				priv[a.Type] = a
			}
			pub[p11.CKA_ENCRYPT] = p11.NewAttribute(p11.CKA_ENCRYPT, false)
			s, err = t.c11.GenerateRSAKeyPairWithAttributes(pub, priv, bits)
		case EC256, EC384, EC521:
			curve := map[KeyType]elliptic.Curve{EC256: elliptic.P256(), EC384: elliptic.P384(), EC521: elliptic.P521()}[kt]
			priv[p11.CKA_DECRYPT] = p11.NewAttribute(p11.CKA_DECRYPT, false)
			priv[p11.CKA_DERIVE] = p11.NewAttribute(p11.CKA_DERIVE, false)
			s, err = t.c11.GenerateECDSAKeyPairWithAttributes(pub, priv, curve)
		default:
			_, err = ParseKeyType(string(kt))
		}
		if err != nil {
			return fmt.Errorf("failed to generate a %s key on token %q: %w", kt, t.info.Label, err)
		}
		key = &Key{signer: s, id: t.uri.ID, t: t}
		return nil
	})
	return key, err
}

// KeyExistsError: GenerateKey refused to create a key whose label or id
// an existing key already has. It names the existing key, and wraps
// ErrKeyExists.
type KeyExistsError struct {
	Token string // label of the token
	Label string // CKA_LABEL of the existing key
	ID    []byte // CKA_ID of the existing key
	// Clash says what the new key would share with it: "label", "id" or
	// "label and id".
	Clash string
	// URI names the existing key (the token selector and query of the
	// URI GenerateKey was given, with the key's object= and id=).
	URI *URI
}

func (e *KeyExistsError) Error() string {
	return fmt.Sprintf("%s: token %q already has a key with the same %s: label %q, id %X (%s); choose another label and id, or use that key",
		ErrKeyExists, e.Token, e.Clash, e.Label, e.ID, e.URI)
}

func (e *KeyExistsError) Unwrap() error { return ErrKeyExists }

// checkNoKey refuses a new key whose id or label a private or public key
// object on the token already has. Runs inside t.do, logged in (so private
// objects are visible).
func (t *Token) checkNoKey() error {
	s, err := t.m.openSession(t.info.Slot)
	if err != nil {
		return err
	}
	defer s.close()
	for _, attr := range []*p11.Attribute{p11.NewAttribute(p11.CKA_ID, t.uri.ID), p11.NewAttribute(p11.CKA_LABEL, t.uri.Object)} {
		for _, class := range []uint{p11.CKO_PRIVATE_KEY, p11.CKO_PUBLIC_KEY} {
			hs, err := s.find([]*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, class), attr})
			if err != nil {
				return fmt.Errorf("failed to search keys on token %q: %w", t.info.Label, err)
			}
			if len(hs) == 0 {
				continue
			}
			v, err := s.attrs(hs[0], p11.CKA_LABEL, p11.CKA_ID)
			if err != nil {
				return err
			}
			label, id := string(v[0]), v[1]
			var clash []string
			if label == t.uri.Object {
				clash = append(clash, "label")
			}
			if bytes.Equal(id, t.uri.ID) {
				clash = append(clash, "id")
			}
			u := *t.uri
			if u.Token == "" && u.Serial == "" && u.SlotID == nil {
				u.Token = t.info.Label
			}
			u.Object, u.ID, u.Type = label, id, ""
			return &KeyExistsError{Token: t.info.Label, Label: label, ID: id, Clash: strings.Join(clash, " and "), URI: &u}
		}
	}
	return nil
}

// ImportCertificate logs in and stores cert on the token as a public
// certificate object with the given CKA_ID and label, where the plugin looks
// for a key's certificate (id) or for issuers (subject).
func (t *Token) ImportCertificate(ctx context.Context, pin PIN, id []byte, label string, cert *x509.Certificate) error {
	if err := t.login(ctx, pin); err != nil {
		return err
	}
	return t.do(ctx, "importing a certificate", func() error {
		if len(id) == 0 {
			id = []byte(label) // CKA_ID must not be empty for crypto11; issuers are found by subject anyway
		}
		if err := t.c11.ImportCertificateWithLabel(id, []byte(label), cert); err != nil {
			return fmt.Errorf("failed to import certificate %q onto token %q: %w", cert.Subject, t.info.Label, err)
		}
		return nil
	})
}
