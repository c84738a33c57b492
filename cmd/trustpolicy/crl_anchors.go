package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
)

// maxCertFile caps a certificate file given to the crl commands.
const maxCertFile = 1 << 20

// readCertFile reads certificates from a PEM or DER file.
func readCertFile(path string) ([]*x509.Certificate, error) {
	data, err := readCappedN(path, maxCertFile)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	if bytes.Contains(data, []byte("-----BEGIN")) {
		certs, err = pki.ParseCertificates(data)
	} else {
		certs, err = x509.ParseCertificates(data)
	}
	if err != nil {
		return nil, badInput("%s: not a certificate file (PEM or DER): %v", path, err)
	}
	if len(certs) == 0 {
		return nil, badInput("%s: holds no certificate", path)
	}
	return certs, nil
}

// readCRLFile reads a CRL file: DER, or PEM with one or more "X509 CRL"
// blocks.
func readCRLFile(path string, limit int64) ([][]byte, error) {
	data, err := readCappedN(path, limit)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		return [][]byte{data}, nil
	}
	var ders [][]byte
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "X509 CRL" {
			ders = append(ders, b.Bytes)
		}
	}
	if len(ders) == 0 {
		return nil, badInput("%s: a PEM file without an \"X509 CRL\" block", path)
	}
	return ders, nil
}

func readCappedN(path string, limit int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, badInput("%v", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, badInput("%v", err)
	}
	if !st.Mode().IsRegular() {
		return nil, badInput("%s: not a regular file", path)
	}
	if st.Size() > limit {
		return nil, badInput("%s: larger than %d bytes", path, limit)
	}
	data, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, badInput("%v", err)
	}
	if int64(len(data)) > limit {
		return nil, badInput("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}
