//go:build unix

package e2e

import (
	"errors"
	"testing"

	p11 "github.com/miekg/pkcs11"
)

// TestMayInitSoftToken: a new token and the harness's own may be
// initialised; any other token is refused (never wiped).
func TestMayInitSoftToken(t *testing.T) {
	for _, c := range []struct {
		label   string
		flags   uint
		foreign bool
	}{
		{"IBM OS PKCS#11", p11.CKF_LOGIN_REQUIRED, false},
		{OpencryptokiTestLabel + "            ", p11.CKF_TOKEN_INITIALIZED, false},
		{OpencryptokiTestLabel, p11.CKF_TOKEN_INITIALIZED | p11.CKF_SO_PIN_TO_BE_CHANGED, false},
		{"payments", p11.CKF_TOKEN_INITIALIZED, true},
		{"", p11.CKF_TOKEN_INITIALIZED, true},
	} {
		err := mayInitSoftToken(p11.TokenInfo{Label: c.label, Flags: c.flags})
		if errors.Is(err, ErrOpencryptokiForeignToken) != c.foreign || (err == nil) == c.foreign {
			t.Errorf("mayInitSoftToken(%q, %#x) = %v", c.label, c.flags, err)
		}
	}
}
