package plugin

import (
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// TestNewKeyFixIsACommand: the fix for a key the token cannot sign with is
// a complete key generate command (no TYPE or NEW-LABEL placeholders), for
// a key type whose mechanisms the token offers.
func TestNewKeyFixIsACommand(t *testing.T) {
	for _, tc := range []struct {
		name    string
		me      *pkcs11.MechanismError
		label   string
		command string
	}{
		{"unsupported key type", nil, "old", "notation-pkcs11 key generate --token pkcs11:token=t --type ec-256 --label old-ec-256"},
		{"token offers ECDSA", &pkcs11.MechanismError{Offered: []string{"CKM_ECDSA", "CKM_RSA_PKCS"}}, "rsa key", "notation-pkcs11 key generate --token pkcs11:token=t --type ec-256 --label 'rsa key-ec-256'"},
		{"token offers only RSA-PSS", &pkcs11.MechanismError{Offered: []string{"CKM_SHA256_RSA_PKCS_PSS"}}, "", "notation-pkcs11 key generate --token pkcs11:token=t --type rsa-3072 --label notation-rsa-3072"},
		{"token offers neither", &pkcs11.MechanismError{Offered: []string{"CKM_RSA_PKCS"}}, "k", ""},
	} {
		f := newKeyFix(shellQuote("pkcs11:token=t"), tc.label, tc.me)
		if f.command != tc.command {
			t.Errorf("%s: command %q, want %q", tc.name, f.command, tc.command)
		}
		if strings.Contains(f.text, "TYPE") || strings.Contains(f.text, "NEW-LABEL") {
			t.Errorf("%s: placeholder in %q", tc.name, f.text)
		}
		if tc.command != "" && !strings.HasSuffix(f.text, tc.command) {
			t.Errorf("%s: text %q does not end with the command", tc.name, f.text)
		}
	}
}
