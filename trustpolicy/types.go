package trustpolicy

// This file holds the vocabulary shared by the policy parser, the trust-store
// loader and the evaluator. It has no behaviour of its own.

// ValidationType names one of notation's verification checks.
type ValidationType string

// The checks notation runs, in the order it runs them.
const (
	TypeIntegrity          ValidationType = "integrity"
	TypeAuthenticity       ValidationType = "authenticity"
	TypeExpiry             ValidationType = "expiry"
	TypeAuthenticTimestamp ValidationType = "authenticTimestamp"
	TypeRevocation         ValidationType = "revocation"
)

// Action is what a failed check does to the verdict.
type Action string

// Enforce fails verification, Log records the failure and goes on, Skip does
// not run the check.
const (
	ActionEnforce Action = "enforce"
	ActionLog     Action = "log"
	ActionSkip    Action = "skip"
)

// Level names accepted in signatureVerification.level (case-sensitive).
const (
	LevelStrict     = "strict"
	LevelPermissive = "permissive"
	LevelAudit      = "audit"
	LevelSkip       = "skip"
)

// verifyTimestamp values. The empty string means VerifyTimestampAlways.
const (
	VerifyTimestampAlways          = "always"
	VerifyTimestampAfterCertExpiry = "afterCertExpiry"
)

// Document is a trust policy document for OCI artifacts, as notation v1.3
// reads it from trustpolicy.json. Decoding follows encoding/json: unknown keys
// are ignored and key names match case-insensitively, as in notation.
type Document struct {
	Version       string      `json:"version"`
	TrustPolicies []Statement `json:"trustPolicies"`
	// Extensions turns on this project's extensions to notation v1.3.2's
	// trust policy. notation ignores the key (and rejects a policy that
	// uses an extension).
	Extensions *Extensions `json:"extensions,omitempty"`
}

// Extensions are opt-in extensions of the trust policy; each is off unless
// set here or by the caller (CompileOptions).
type Extensions struct {
	// RegistryScopes allows a registry host as a registry scope
	// (notaryproject/specifications PR #330): see CompileOptions.
	RegistryScopes bool `json:"registryScopes,omitempty"`
}

// Statement is one entry of trustPolicies.
type Statement struct {
	Name                  string                `json:"name"`
	RegistryScopes        []string              `json:"registryScopes"`
	SignatureVerification SignatureVerification `json:"signatureVerification"`
	TrustStores           []string              `json:"trustStores,omitempty"`
	TrustedIdentities     []string              `json:"trustedIdentities,omitempty"`
}

// SignatureVerification is a statement's level, its overrides and its
// timestamp option.
type SignatureVerification struct {
	Level           string                    `json:"level"`
	Override        map[ValidationType]Action `json:"override,omitempty"`
	VerifyTimestamp string                    `json:"verifyTimestamp,omitempty"`
}
