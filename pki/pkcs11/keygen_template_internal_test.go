package pkcs11

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"
)

// TestKeygenError: a refused template (tpm2-pkcs11 answers a sign-only
// template with CKR_GENERAL_ERROR) wraps ErrKeyTemplate and says what to
// do; other failures (a mechanism the token lacks) do not.
func TestKeygenError(t *testing.T) {
	for _, c := range []struct {
		err      error
		template bool
	}{
		{p11.Error(p11.CKR_GENERAL_ERROR), true},
		{p11.Error(p11.CKR_TEMPLATE_INCONSISTENT), true},
		{p11.Error(p11.CKR_ATTRIBUTE_VALUE_INVALID), true},
		{fmt.Errorf("wrapped: %w", p11.Error(p11.CKR_ATTRIBUTE_TYPE_INVALID)), true},
		{p11.Error(p11.CKR_MECHANISM_INVALID), false},
		{p11.Error(p11.CKR_DEVICE_ERROR), false},
		{errors.New("not a PKCS#11 error"), false},
	} {
		err := keygenError(EC256, "tpm", c.err)
		if !errors.Is(err, c.err) || errors.Is(err, ErrKeyTemplate) != c.template {
			t.Errorf("keygenError(%v) = %v: wraps the cause %v, ErrKeyTemplate %v (want %v)", c.err, err, errors.Is(err, c.err), errors.Is(err, ErrKeyTemplate), c.template)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, `failed to generate a ec-256 key on token "tpm": `) || strings.Contains(msg, "tpm2_ptool addkey") != c.template {
			t.Errorf("keygenError(%v) message: %q", c.err, msg)
		}
	}
}
