package testtsa

import "encoding/asn1"

// Object identifiers. They are functions, not variables, so no caller can
// change them.

// DefaultPolicy is the TSA policy New uses when [Options.Policy] is nil:
// 2.999.3161.1, under the joint-iso-itu-t example arc.
func DefaultPolicy() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 999, 3161, 1} }

// BaselinePolicy is the RFC 3628 baseline time-stamp policy 0.4.0.2023.1.1.
// Under it, a token without accuracy counts as accurate to one second in
// Notary Project verification (tspclient-go TSTInfo.Validate).
func BaselinePolicy() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{0, 4, 0, 2023, 1, 1} }

func oidSignedData() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2} }
func oidData() asn1.ObjectIdentifier       { return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1} }
func oidTSTInfo() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
}
func oidContentType() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3} }
func oidMessageDigest() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
}
func oidSigningTime() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5} }

// oidSigningCertificate is id-aa-signingCertificate (RFC 2634 5.4, SHA-1
// ESSCertID).
func oidSigningCertificate() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
}

// oidSigningCertificateV2 is id-aa-signingCertificateV2 (RFC 5035 3).
func oidSigningCertificateV2() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
}

func oidSHA256() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1} }
func oidSHA384() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2} }
func oidSHA512() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3} }

func oidRSAEncryption() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
}
func oidECDSAWithSHA256() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
}
func oidECDSAWithSHA384() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
}
func oidECDSAWithSHA512() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
}

func oidExtKeyUsage() asn1.ObjectIdentifier  { return asn1.ObjectIdentifier{2, 5, 29, 37} }
func oidTimeStamping() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8} }
