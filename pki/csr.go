package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
)

// ErrCSR is wrapped when a certificate request cannot be made or does not
// verify.
var ErrCSR = errors.New("certificate request failed")

var (
	oidExtKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidEKUCodeSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 3}
)

// CSRExtensions are the extensions every request from CreateCSR asks for:
// keyUsage = critical, digitalSignature and extendedKeyUsage = codeSigning,
// which is the Notary Project signing-certificate profile.
func CSRExtensions() ([]pkix.Extension, error) {
	ku, err := asn1.Marshal(asn1.BitString{Bytes: []byte{0x80}, BitLength: 1}) // digitalSignature (bit 0)
	if err != nil {
		return nil, err
	}
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidEKUCodeSigning})
	if err != nil {
		return nil, err
	}
	return []pkix.Extension{
		{Id: oidKeyUsage, Critical: true, Value: ku},
		{Id: oidExtKeyUsage, Value: eku},
	}, nil
}

// CreateCSR makes a PKCS#10 certificate request for signer's key, signed by
// signer (for an HSM key, inside the HSM): RSA keys sign PKCS #1 v1.5 and
// EC keys ECDSA, with the hash Notation pairs with the key size. The request
// is checked with its own public key before it is returned (DER).
func CreateCSR(signer crypto.Signer, subject pkix.Name) ([]byte, error) {
	ks, err := KeySpecOf(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCSR, err)
	}
	alg, err := AlgorithmFor(ks)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCSR, err)
	}
	sigAlg := map[crypto.Hash][2]x509.SignatureAlgorithm{
		crypto.SHA256: {x509.SHA256WithRSA, x509.ECDSAWithSHA256},
		crypto.SHA384: {x509.SHA384WithRSA, x509.ECDSAWithSHA384},
		crypto.SHA512: {x509.SHA512WithRSA, x509.ECDSAWithSHA512},
	}[alg.Hash]
	exts, err := CSRExtensions()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCSR, err)
	}
	tmpl := &x509.CertificateRequest{Subject: subject, ExtraExtensions: exts, SignatureAlgorithm: sigAlg[0]}
	if alg.ECDSA {
		tmpl.SignatureAlgorithm = sigAlg[1]
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, signer)
	if err != nil {
		return nil, fmt.Errorf("%w: signing the request for %s: %w", ErrCSR, subject, err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: the signed request does not parse: %w", ErrCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: the HSM's signature on the request does not verify with the key's public key: %w", ErrCSR, err)
	}
	return der, nil
}
