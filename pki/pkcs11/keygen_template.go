package pkcs11

import (
	"errors"
	"fmt"

	p11 "github.com/miekg/pkcs11"
)

// ErrKeyTemplate: the token refused the template of a sign-only key pair
// (keyTemplates): some modules make only keys that can also decrypt.
var ErrKeyTemplate = errors.New("the token refused the attributes of a sign-only key")

// keygenError wraps a C_GenerateKeyPair failure. When the module refused
// the template (or failed without saying why, as tpm2-pkcs11 1.9 does when
// CKA_DECRYPT is false), it wraps ErrKeyTemplate too and says what to do:
// GenerateKey fails closed rather than make a key that can decrypt.
func keygenError(kt KeyType, token string, err error) error {
	var code p11.Error
	if errors.As(err, &code) {
		switch uint(code) {
		case p11.CKR_GENERAL_ERROR, p11.CKR_FUNCTION_FAILED, p11.CKR_TEMPLATE_INCONSISTENT, p11.CKR_TEMPLATE_INCOMPLETE,
			p11.CKR_ATTRIBUTE_VALUE_INVALID, p11.CKR_ATTRIBUTE_TYPE_INVALID, p11.CKR_ATTRIBUTE_READ_ONLY:
			return fmt.Errorf("failed to generate a %s key on token %q: %w (%w): key generate makes only sign-only keys "+
				"(the private key cannot decrypt, unwrap or derive) and this module may not allow that (tpm2-pkcs11 makes every key able to decrypt); "+
				"make the key with the token's own tool (for a TPM: tpm2_ptool addkey) and store its certificate with notation-pkcs11 cert import",
				kt, token, ErrKeyTemplate, err)
		}
	}
	return fmt.Errorf("failed to generate a %s key on token %q: %w", kt, token, err)
}
