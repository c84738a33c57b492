package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// maxCertFile caps a certificate file given to the crl commands.
const maxCertFile = 1 << 20

// crlIssuers returns the CA certificates a CRL may be validated against:
// every certificate of every trust store in the trust store folder (the
// stores the policy names are among them), and each CA certificate of
// extra that chains to one of those. A certificate that does not chain to a
// trust store is never an issuer: nothing unanchored enters the cache.
// Store problems are reported through warn.
func crlIssuers(storeRoot string, extra []*x509.Certificate, e env, warn func(string)) ([]*x509.Certificate, error) {
	refs, err := storeRefs(storeRoot)
	if err != nil {
		return nil, err
	}
	set := truststore.Load(storeRoot, refs)
	var anchors []*x509.Certificate
	for _, ref := range refs {
		certs, err := set.Certificates(ref)
		if err != nil {
			warn(fmt.Sprintf("trust store %s skipped: %v", ref, err))
			continue
		}
		anchors = append(anchors, certs...)
	}
	if len(anchors) == 0 {
		return nil, badInput("no trust store certificate in %s: a CRL is accepted only from a CA that chains to a trust store; add the root with notation cert add, or pass --truststore", storeRoot)
	}
	roots := x509.NewCertPool()
	for _, a := range anchors {
		roots.AddCert(a)
	}
	inter := x509.NewCertPool()
	for _, c := range extra {
		inter.AddCert(c)
	}
	out := append([]*x509.Certificate(nil), anchors...)
	for _, c := range extra {
		if !c.IsCA || containsCert(out, c) {
			continue
		}
		_, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: e.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			warn(fmt.Sprintf("certificate %q is not used as a CRL issuer: it does not chain to a trust store: %v", c.Subject, err))
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

func containsCert(list []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range list {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

// storeRefs lists every store under root/x509/{ca,signingAuthority,tsa}.
func storeRefs(root string) ([]truststore.Ref, error) {
	var refs []truststore.Ref
	for _, t := range truststore.Types() {
		ents, err := os.ReadDir(filepath.Join(root, "x509", string(t)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, badInput("trust store folder %s: %v", root, err)
		}
		for _, d := range ents {
			if d.IsDir() && truststore.ValidName(d.Name()) {
				refs = append(refs, truststore.Ref{Type: t, Name: d.Name()})
			}
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
	return refs, nil
}

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
