package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"

	p11 "github.com/miekg/pkcs11"
)

// GenerateAlwaysAuthKey generates an EC P-256 key pair on the token labelled
// token, through miekg/pkcs11 in this process, with CKA_ALWAYS_AUTHENTICATE
// set on the private key (as smart cards and PIV tokens set it on signing
// keys): every signature needs a context-specific login. Both halves get
// label and id. It loads module itself, logs in with pin and finalises the
// module before it returns; SoftHSM reads SOFTHSM2_CONF from this process's
// environment, which the caller sets. It returns the public key.
func GenerateAlwaysAuthKey(module, token, pin, label string, id []byte) (crypto.PublicKey, error) {
	ctx := p11.New(module)
	if ctx == nil {
		return nil, fmt.Errorf("e2e: cannot load %s", module)
	}
	defer ctx.Destroy()
	if err := ctx.Initialize(); err != nil {
		return nil, fmt.Errorf("e2e: C_Initialize: %w", err)
	}
	defer ctx.Finalize()
	slot, err := findSlot(ctx, token)
	if err != nil {
		return nil, err
	}
	s, err := ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return nil, fmt.Errorf("e2e: C_OpenSession: %w", err)
	}
	defer ctx.CloseSession(s)
	if err := ctx.Login(s, p11.CKU_USER, pin); err != nil {
		return nil, fmt.Errorf("e2e: C_Login: %w", err)
	}
	defer ctx.Logout(s)
	params, err := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7})
	if err != nil {
		return nil, err
	}
	pubT := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, true), p11.NewAttribute(p11.CKA_VERIFY, true),
		p11.NewAttribute(p11.CKA_EC_PARAMS, params),
		p11.NewAttribute(p11.CKA_LABEL, label), p11.NewAttribute(p11.CKA_ID, id),
	}
	privT := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, true), p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true), p11.NewAttribute(p11.CKA_SIGN, true),
		p11.NewAttribute(p11.CKA_ALWAYS_AUTHENTICATE, true),
		p11.NewAttribute(p11.CKA_LABEL, label), p11.NewAttribute(p11.CKA_ID, id),
	}
	pubH, privH, err := ctx.GenerateKeyPair(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_EC_KEY_PAIR_GEN, nil)}, pubT, privT)
	if err != nil {
		return nil, fmt.Errorf("e2e: C_GenerateKeyPair with CKA_ALWAYS_AUTHENTICATE: %w", err)
	}
	a, err := ctx.GetAttributeValue(s, privH, []*p11.Attribute{p11.NewAttribute(p11.CKA_ALWAYS_AUTHENTICATE, nil)})
	if err != nil || len(a) != 1 || len(a[0].Value) != 1 || a[0].Value[0] != 1 {
		return nil, fmt.Errorf("e2e: the token did not keep CKA_ALWAYS_AUTHENTICATE on the private key (%v)", err)
	}
	pt, err := ctx.GetAttributeValue(s, pubH, []*p11.Attribute{p11.NewAttribute(p11.CKA_EC_POINT, nil)})
	if err != nil || len(pt) != 1 {
		return nil, fmt.Errorf("e2e: reading CKA_EC_POINT: %v", err)
	}
	var point []byte
	if rest, err := asn1.Unmarshal(pt[0].Value, &point); err != nil || len(rest) > 0 {
		return nil, errors.New("e2e: CKA_EC_POINT is not a DER OCTET STRING")
	}
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
}

func findSlot(ctx *p11.Ctx, token string) (uint, error) {
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("e2e: C_GetSlotList: %w", err)
	}
	for _, s := range slots {
		if ti, err := ctx.GetTokenInfo(s); err == nil && strings.TrimRight(ti.Label, " \x00") == token {
			return s, nil
		}
	}
	return 0, fmt.Errorf("e2e: no token labelled %q", token)
}
