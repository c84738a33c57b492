package pki

// RuleID names one rule of the Notary Project signing-certificate profile
// that a Finding reports, as crypto/x509's InvalidReason names why a
// certificate is invalid. IDs are stable: code and scripts compare them
// (cert lint, cert import and doctor print them in their JSON output as
// "id"), while Finding.Rule, the prose, may be reworded. Rules lists them.
type RuleID string

// The rules a Finding can report. Rules returns them with their severity.
const (
	// Validity, for every certificate of the chain.
	RuleExpired       RuleID = "expired"            // the certificate expired
	RuleNotYetValid   RuleID = "not-yet-valid"      // the certificate is not valid yet
	RuleExpiresSoon   RuleID = "expires-soon"       // the certificate expires within 30 days
	RuleSHA1Signature RuleID = "sha1-signature"     // the certificate is signed with SHA-1 (or MD5)
	RuleKeyUsage      RuleID = "key-usage"          // the keyUsage extension is missing
	RuleKeyUsageCrit  RuleID = "key-usage-critical" // the keyUsage extension is not critical

	// The signing certificate (the leaf).
	RuleLeafCA            RuleID = "leaf-ca"              // the leaf has basicConstraints cA=TRUE
	RuleLeafKeyUsage      RuleID = "leaf-key-usage"       // keyUsage lacks digitalSignature
	RuleLeafExtraKeyUsage RuleID = "leaf-extra-key-usage" // keyUsage has bits besides digitalSignature
	RuleLeafExtKeyUsage   RuleID = "leaf-ext-key-usage"   // extendedKeyUsage has a purpose notation refuses
	RuleLeafKeyType       RuleID = "leaf-key-type"        // a key Notation does not sign with
	RuleLeafSelfSigned    RuleID = "leaf-self-signed"     // a lone self-signed signing certificate
	RuleSubjectIdentity   RuleID = "subject-identity"     // no trust policy x509.subject identity can name the subject

	// The CA certificates.
	RuleCABasicConstraints     RuleID = "ca-basic-constraints"          // a CA without basicConstraints cA=TRUE
	RuleCABasicConstraintsCrit RuleID = "ca-basic-constraints-critical" // basicConstraints is not critical
	RuleCAPathLength           RuleID = "ca-path-length"                // pathlen too small for the CAs below
	RuleCAKeyUsage             RuleID = "ca-key-usage"                  // keyUsage lacks keyCertSign
	RuleCAWeakKey              RuleID = "ca-weak-key"                   // RSA under 2048 or EC under 256 bits

	// The chain as a whole.
	RuleChainEmpty            RuleID = "chain-empty"              // no certificate at all
	RuleChainNoRoot           RuleID = "chain-no-root"            // the chain does not end in a self-signed root
	RuleChainIssuerMissing    RuleID = "chain-issuer-missing"     // the issuer of the last certificate was not given
	RuleChainOrder            RuleID = "chain-order"              // a certificate is not issued by the next one
	RuleChainSelfSignedMiddle RuleID = "chain-self-signed-middle" // a self-signed certificate inside the chain
	RuleChainExtra            RuleID = "chain-extra"              // a given certificate is not part of the chain
	RuleNotationRejects       RuleID = "notation-rejects"         // notation-core-go refuses what these rules accept
)

// RuleInfo describes one rule: its ID, the severity of its findings and
// what it checks.
type RuleInfo struct {
	ID       RuleID   `json:"id"`
	Severity Severity `json:"severity"`
	Summary  string   `json:"summary"`
}

// Rules lists every rule a Finding can report, in the order the linter
// checks them. docs/pki-workflow.md lists the same table.
func Rules() []RuleInfo {
	return []RuleInfo{
		{RuleExpired, SeverityError, "the certificate has expired"},
		{RuleNotYetValid, SeverityError, "the certificate is not valid yet"},
		{RuleExpiresSoon, SeverityWarning, "the certificate expires within 30 days"},
		{RuleLeafCA, SeverityError, "the signing certificate is a CA (basicConstraints cA=TRUE)"},
		{RuleKeyUsage, SeverityError, "the keyUsage extension is missing"},
		{RuleKeyUsageCrit, SeverityError, "the keyUsage extension is not critical"},
		{RuleLeafKeyUsage, SeverityError, "the signing certificate's keyUsage lacks digitalSignature"},
		{RuleLeafExtraKeyUsage, SeverityError, "the signing certificate's keyUsage has more than digitalSignature"},
		{RuleLeafExtKeyUsage, SeverityError, "extendedKeyUsage has serverAuth, clientAuth, emailProtection, timeStamping or OCSPSigning"},
		{RuleLeafKeyType, SeverityError, "the signing key is not RSA 2048/3072/4096 or EC P-256/P-384/P-521"},
		{RuleSHA1Signature, SeverityError, "the certificate is signed with SHA-1 (or MD5)"},
		{RuleSubjectIdentity, SeverityWarning, "no trust policy x509.subject identity can name the subject (it lacks C, ST or O, repeats an attribute, or notation cannot parse it), so only \"*\" can trust it"},
		{RuleLeafSelfSigned, SeverityWarning, "the signing certificate is self-signed (cannot be revoked or rotated by a CA)"},
		{RuleCABasicConstraints, SeverityError, "a CA certificate lacks basicConstraints cA=TRUE"},
		{RuleCABasicConstraintsCrit, SeverityWarning, "a CA certificate's basicConstraints is not critical"},
		{RuleCAPathLength, SeverityError, "a CA's path length constraint is too small for the CAs below it"},
		{RuleCAKeyUsage, SeverityError, "a CA certificate's keyUsage lacks keyCertSign"},
		{RuleCAWeakKey, SeverityWarning, "a CA key is RSA under 2048 bits or EC under 256 bits"},
		{RuleChainNoRoot, SeverityError, "the chain does not end in a self-signed root"},
		{RuleChainSelfSignedMiddle, SeverityError, "a self-signed certificate sits inside the chain"},
		{RuleChainOrder, SeverityError, "a certificate is not issued by the next one in the chain"},
		{RuleChainIssuerMissing, SeverityError, "the issuer of the last certificate given is missing, so the chain stops below its root"},
		{RuleChainExtra, SeverityWarning, "a certificate given is not part of the signing certificate's chain"},
		{RuleChainEmpty, SeverityError, "no certificate was given"},
		{RuleNotationRejects, SeverityError, "notation-core-go refuses a chain that these rules accept (its reason is quoted)"},
	}
}

// severityOf is the severity Rules gives id.
func severityOf(id RuleID) Severity {
	for _, r := range Rules() {
		if r.ID == id {
			return r.Severity
		}
	}
	return SeverityError
}
