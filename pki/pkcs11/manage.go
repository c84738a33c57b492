package pkcs11

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strings"

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
		return nil, uriError(URINoKey, "", "a new key needs both object=<label> and id=<CKA_ID> in the URI")
	}
	if err := t.login(ctx, pin); err != nil {
		return nil, err
	}
	if _, err := ParseKeyType(string(kt)); err != nil {
		return nil, err
	}
	return call(ctx, t, "generating a key", func() (*Key, error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if err := t.checkNoKey(); err != nil {
			return nil, err
		}
		pub, priv, mech, err := keyTemplates(kt, t.uri.ID, t.uri.Object)
		if err != nil {
			return nil, err
		}
		s, err := t.m.openSession(t.info.Slot, true)
		if err != nil {
			return nil, fmt.Errorf("failed to generate a %s key on token %q: %w", kt, t.info.Label, err)
		}
		defer s.close()
		_, privH, err := t.m.ctx.GenerateKeyPair(s.h, []*p11.Mechanism{p11.NewMechanism(mech, nil)}, pub, priv)
		if err != nil {
			return nil, keygenError(kt, t.info.Label, err)
		}
		return t.sess.keyFor(privH, t)
	})
}

// keyTemplates are the attributes of a new key pair of type kt: token
// objects with the given id and label; the private key private, sensitive,
// never extractable, and able only to sign; the public key only to verify.
func keyTemplates(kt KeyType, id []byte, label string) (pub, priv []*p11.Attribute, mech uint, err error) {
	pub = []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY),
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_ID, id),
		p11.NewAttribute(p11.CKA_LABEL, label),
		p11.NewAttribute(p11.CKA_VERIFY, true),
		p11.NewAttribute(p11.CKA_WRAP, false),
	}
	priv = []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_ID, id),
		p11.NewAttribute(p11.CKA_LABEL, label),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_SIGN, true),
		p11.NewAttribute(p11.CKA_DECRYPT, false),
		p11.NewAttribute(p11.CKA_UNWRAP, false),
	}
	switch kt {
	case RSA2048, RSA3072, RSA4096:
		bits := map[KeyType]int{RSA2048: 2048, RSA3072: 3072, RSA4096: 4096}[kt]
		pub = append(pub,
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_RSA),
			p11.NewAttribute(p11.CKA_ENCRYPT, false),
			p11.NewAttribute(p11.CKA_MODULUS_BITS, bits),
			p11.NewAttribute(p11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
		priv = append(priv, p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_RSA))
		return pub, priv, p11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil
	case EC256, EC384, EC521:
		oid := map[KeyType]asn1.ObjectIdentifier{EC256: {1, 2, 840, 10045, 3, 1, 7}, EC384: {1, 3, 132, 0, 34}, EC521: {1, 3, 132, 0, 35}}[kt]
		params, err := asn1.Marshal(oid)
		if err != nil {
			return nil, nil, 0, err
		}
		pub = append(pub,
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
			p11.NewAttribute(p11.CKA_EC_PARAMS, params))
		priv = append(priv,
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
			p11.NewAttribute(p11.CKA_DERIVE, false))
		return pub, priv, p11.CKM_EC_KEY_PAIR_GEN, nil
	}
	_, err = ParseKeyType(string(kt))
	return nil, nil, 0, err
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
// object on the token already has. Call with t.mu held, logged in (so
// private objects are visible).
func (t *Token) checkNoKey() error {
	s := t.sess
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
			id = []byte(label) // issuers are found by subject; the id only needs to be there
		}
		serial, err := asn1.Marshal(cert.SerialNumber)
		if err != nil {
			return fmt.Errorf("certificate %q: %w", cert.Subject, err)
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		s, err := t.m.openSession(t.info.Slot, true)
		if err == nil {
			defer s.close()
			_, err = t.m.ctx.CreateObject(s.h, []*p11.Attribute{
				p11.NewAttribute(p11.CKA_CLASS, p11.CKO_CERTIFICATE),
				p11.NewAttribute(p11.CKA_CERTIFICATE_TYPE, p11.CKC_X_509),
				p11.NewAttribute(p11.CKA_TOKEN, true),
				p11.NewAttribute(p11.CKA_PRIVATE, false),
				p11.NewAttribute(p11.CKA_ID, id),
				p11.NewAttribute(p11.CKA_LABEL, label),
				p11.NewAttribute(p11.CKA_SUBJECT, cert.RawSubject),
				p11.NewAttribute(p11.CKA_ISSUER, cert.RawIssuer),
				p11.NewAttribute(p11.CKA_SERIAL_NUMBER, serial),
				p11.NewAttribute(p11.CKA_VALUE, cert.Raw),
			})
		}
		if err != nil {
			return fmt.Errorf("failed to import certificate %q onto token %q: %w", cert.Subject, t.info.Label, err)
		}
		return nil
	})
}
