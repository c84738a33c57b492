package plugin

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

func TestToProtocolErrorMapping(t *testing.T) {
	chainErr := &pki.ChainError{Findings: []pki.Finding{{Severity: pki.SeverityError, Subject: "CN=x", Rule: "it expired", Fix: "renew it"}}}
	framework := proto.NewError(proto.ErrorCodeThrottled, "slow down")
	tests := []struct {
		name string
		err  error
		code proto.ErrorCode
	}{
		// pkcs11 sentinels.
		{"pkcs11.ErrModule", pkcs11.ErrModule, proto.ErrorCodeGeneric},
		{"pkcs11.ErrTokenNotFound", pkcs11.ErrTokenNotFound, proto.ErrorCodeValidation},
		{"pkcs11.ErrKeyNotFound", pkcs11.ErrKeyNotFound, proto.ErrorCodeValidation},
		{"pkcs11.ErrAmbiguous", pkcs11.ErrAmbiguous, proto.ErrorCodeValidation},
		{"pkcs11.ErrLogin", pkcs11.ErrLogin, proto.ErrorCodeAccessDenied},
		{"pkcs11.ErrTimeout", pkcs11.ErrTimeout, proto.ErrorCodeTimeout},
		{"pkcs11.ErrCertificateNotFound", pkcs11.ErrCertificateNotFound, proto.ErrorCodeValidation},
		{"pkcs11.ErrInvalidURI", pkcs11.ErrInvalidURI, proto.ErrorCodeValidation},
		{"pkcs11.ErrNoPIN", pkcs11.ErrNoPIN, proto.ErrorCodeValidation},
		{"pkcs11.ErrPINSource", pkcs11.ErrPINSource, proto.ErrorCodeValidation},
		{"pkcs11.ErrKeyExists", pkcs11.ErrKeyExists, proto.ErrorCodeValidation},
		{"*pkcs11.KeyExistsError", &pkcs11.KeyExistsError{Token: "t", Label: "k", ID: []byte{1}, Clash: "id", URI: &pkcs11.URI{Token: "t", Object: "k", ID: []byte{1}}}, proto.ErrorCodeValidation},
		{"pkcs11.ErrMechanism", pkcs11.ErrMechanism, proto.ErrorCodeValidation},
		{"*pkcs11.MechanismError", &pkcs11.MechanismError{Token: "t", Signature: "ECDSA with SHA-256", Missing: []string{"CKM_ECDSA_SHA256", "CKM_ECDSA"}}, proto.ErrorCodeValidation},
		{"*AuditLogError timed out", &AuditLogError{Path: "/a.log", Reason: "lock", Err: pkcs11.ErrTimeout}, proto.ErrorCodeTimeout},
		{"*AuditLogError cancelled", &AuditLogError{Path: "/a.log", Reason: "cancelled", Err: context.Canceled}, proto.ErrorCodeGeneric},
		// pki sentinels and the chain error.
		{"pki.ErrCertificateMismatch", pki.ErrCertificateMismatch, proto.ErrorCodeValidation},
		{"pki.ErrIncompleteChain", pki.ErrIncompleteChain, proto.ErrorCodeValidation},
		{"pki.ErrUnsupportedKey", pki.ErrUnsupportedKey, proto.ErrorCodeValidation},
		{"pki.ErrMalformedSignature", pki.ErrMalformedSignature, proto.ErrorCodeGeneric},
		{"*pki.ChainError", chainErr, proto.ErrorCodeValidation},
		// this package's sentinels.
		{"ErrConfig", ErrConfig, proto.ErrorCodeValidation},
		{"ErrRequest", ErrRequest, proto.ErrorCodeValidation},
		{"ErrUnsupported", ErrUnsupported, proto.ErrorCodeValidation},
		{"ErrSelfCheck", ErrSelfCheck, proto.ErrorCodeGeneric},
		{"*PSSSaltError", &PSSSaltError{Salt: 222, Max: 222, Hash: crypto.SHA256}, proto.ErrorCodeGeneric},
		// anything else.
		{"plain error", errors.New("disk on fire"), proto.ErrorCodeGeneric},
		{"framework error passes through", framework, proto.ErrorCodeThrottled},
		// precedence when several apply.
		{"login beats key not found", fmt.Errorf("%w: %w", pkcs11.ErrKeyNotFound, pkcs11.ErrLogin), proto.ErrorCodeAccessDenied},
		{"timeout beats incomplete chain", fmt.Errorf("%w: %w", pki.ErrIncompleteChain, pkcs11.ErrTimeout), proto.ErrorCodeTimeout},
	}
	for _, tc := range tests {
		for _, wrap := range []string{"bare", "wrapped", "joined"} {
			t.Run(tc.name+"/"+wrap, func(t *testing.T) {
				err := tc.err
				switch wrap {
				case "wrapped":
					err = fmt.Errorf("context: %w", err)
				case "joined":
					err = errors.Join(errors.New("first"), fmt.Errorf("second: %w", err))
				}
				pe := ToProtocolError(err)
				if pe.ErrCode != tc.code {
					t.Errorf("ToProtocolError(%v).ErrCode = %q, want %q", err, pe.ErrCode, tc.code)
				}
				want := err.Error()
				if errors.As(err, new(*proto.Error)) {
					want = framework.Message
				}
				if pe.Message != want {
					t.Errorf("message %q, want %q", pe.Message, want)
				}
				b, merr := json.Marshal(pe)
				if merr != nil {
					t.Fatal(merr)
				}
				var back map[string]any
				if err := json.Unmarshal(b, &back); err != nil || back["errorCode"] != string(tc.code) {
					t.Errorf("JSON %s", b)
				}
			})
		}
	}
}

// An error with a fix carries it into the protocol message, once.
func TestToProtocolErrorFix(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"audit log", fmt.Errorf("invalid: withheld: %w", &AuditLogError{Path: "/a.log", Reason: "mode 0644", fix: "chmod 600 /a.log"}), "invalid: withheld: audit log not written: audit_log /a.log: mode 0644; run: chmod 600 /a.log"},
		{"no fix", &AuditLogError{Path: "/a.log", Reason: "not a regular file"}, "audit log not written: audit_log /a.log: not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ToProtocolError(tc.err).Message; got != tc.want {
				t.Errorf("message %q, want %q", got, tc.want)
			}
		})
	}
}

// ChainError messages name each certificate, rule and fix.
func TestToProtocolErrorChainMessage(t *testing.T) {
	err := &pki.ChainError{Findings: []pki.Finding{
		{Severity: pki.SeverityError, Index: 0, Subject: "CN=leaf", Rule: "key usage extension is missing", Fix: "add keyUsage = critical, digitalSignature"},
		{Severity: pki.SeverityError, Index: 1, Subject: "CN=ca", Rule: "key usage lacks keyCertSign", Fix: "set keyUsage"},
	}}
	pe := ToProtocolError(fmt.Errorf("signing: %w", err))
	for _, s := range []string{`"CN=leaf"`, "key usage extension is missing", "fix: add keyUsage", `"CN=ca"`, "key usage lacks keyCertSign"} {
		if !strings.Contains(pe.Message, s) {
			t.Errorf("message lacks %q: %s", s, pe.Message)
		}
	}
}
