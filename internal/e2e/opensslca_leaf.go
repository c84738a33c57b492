package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// IssueLeaf creates a code-signing leaf signed by the intermediate:
// leaves/<name>.key (PKCS#8 PEM), leaves/<name>.crt and
// leaves/<name>-chain.pem (leaf, intermediate, root; see [OpenSSLCA.ChainPath]).
// subject is in openssl form ("/C=US/ST=WA/O=Acme/CN=signer") or
// comma-separated form ("C=US, ST=WA, O=Acme, CN=signer", no escapes); empty
// means "/C=US/ST=WA/O=Notation PKCS11 E2E/CN=<name>". name may hold
// letters, digits, '.', '_' and '-', and must be new.
func (c *OpenSSLCA) IssueLeaf(name, subject string) (certPath, keyPath string, err error) {
	return c.issueLeaf(name, subject, "ext_leaf")
}

// issueLeaf issues a leaf with the extensions section ext of the
// intermediate's config.
func (c *OpenSSLCA) issueLeaf(name, subject, ext string) (certPath, keyPath string, err error) {
	if !osslNameOK(name) {
		return "", "", fmt.Errorf("e2e: leaf name %q: use letters, digits, '.', '_' and '-'", name)
	}
	subj, err := osslSubject(subject, name)
	if err != nil {
		return "", "", err
	}
	c.mu.Lock()
	_, taken := c.leaves[name]
	if !taken {
		c.leaves[name] = osslLeaf{} // reserved
	}
	c.mu.Unlock()
	if taken {
		return "", "", fmt.Errorf("e2e: leaf %q already exists", name)
	}
	l := osslLeaf{
		cert:  filepath.Join(c.dir, "leaves", name+".crt"),
		key:   filepath.Join(c.dir, "leaves", name+".key"),
		chain: filepath.Join(c.dir, "leaves", name+"-chain.pem"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	err = c.genKey(ctx, l.key)
	if err == nil {
		err = c.issue(ctx, c.inter, l.key, subj, ext, "365", l.cert)
	}
	if err == nil {
		err = osslWriteChain(l.chain, l.cert, c.inter.certPath(), c.root.certPath())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		delete(c.leaves, name)
		return "", "", fmt.Errorf("e2e: issuing leaf %q: %w", name, err)
	}
	c.leaves[name] = l
	return l.cert, l.key, nil
}

func osslNameOK(name string) bool {
	if name == "" || name[0] == '.' || name[0] == '-' {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// osslSubject turns subject into openssl -subj form.
func osslSubject(subject, cn string) (string, error) {
	s := strings.TrimSpace(subject)
	switch {
	case s == "":
		return "/C=US/ST=WA/O=Notation PKCS11 E2E/CN=" + cn, nil
	case strings.HasPrefix(s, "/"):
		return s, nil
	}
	var b strings.Builder
	for _, rdn := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(rdn), "=")
		if !ok || strings.TrimSpace(k) == "" {
			return "", fmt.Errorf("e2e: subject %q: %q is not TYPE=value", subject, rdn)
		}
		b.WriteString("/" + strings.TrimSpace(k) + "=" + strings.ReplaceAll(strings.TrimSpace(v), "/", `\/`))
	}
	return b.String(), nil
}

func osslWriteChain(out string, parts ...string) error {
	var buf bytes.Buffer
	for _, p := range parts {
		cert, err := osslReadCert(p)
		if err != nil {
			return err
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}); err != nil {
			return fmt.Errorf("e2e: %w", err)
		}
	}
	return osslWriteFile(out, buf.Bytes())
}

func osslReadCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return nil, fmt.Errorf("e2e: %s: no PEM certificate", path)
		}
		if b.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("e2e: %s: %w", path, err)
			}
			return cert, nil
		}
	}
}

func osslWriteFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	defer os.Remove(f.Name()) // no-op after the rename
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("e2e: writing %s: %w", path, err)
	}
	return nil
}

// issuerOf finds the CA that signed the certificate in certPath.
func (c *OpenSSLCA) issuerOf(certPath string) (*osslCA, *x509.Certificate, error) {
	cert, err := osslReadCert(certPath)
	if err != nil {
		return nil, nil, err
	}
	for _, ca := range c.cas {
		if bytes.Equal(cert.RawIssuer, ca.cert.RawSubject) && cert.CheckSignatureFrom(ca.cert) == nil {
			return ca, cert, nil
		}
	}
	return nil, nil, fmt.Errorf("e2e: %s was not issued by this OpenSSLCA", certPath)
}

// Revoke marks the certificate in certPath revoked in its issuer's database
// with openssl ca -revoke -crl_reason reason (unspecified, keyCompromise,
// CACompromise, affiliationChanged, superseded, cessationOfOperation,
// certificateHold or removeFromCRL; case does not matter). OCSP answers see
// the change at once; CRLs after the next [OpenSSLCA.PublishCRL].
//
// removeFromCRL on a certificate that is on hold releases the hold: openssl
// refuses to revoke twice, so the harness resets its index.txt entry to
// valid (OCSP then says good and the next full CRL drops the entry). On any
// other certificate it is openssl's own behaviour: an entry with reason
// removeFromCRL (and OCSP "revoked", reason removeFromCRL).
func (c *OpenSSLCA) Revoke(certPath, reason string) error {
	canon := ""
	for _, r := range osslReasons() {
		if strings.EqualFold(r, reason) {
			canon = r
		}
	}
	if canon == "" {
		return fmt.Errorf("e2e: unknown revocation reason %q (want one of %s)", reason, strings.Join(osslReasons(), ", "))
	}
	ca, cert, err := c.issuerOf(certPath)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if canon == "removeFromCRL" {
		released, err := ca.releaseHold(cert.SerialNumber)
		if err != nil || released {
			return err
		}
	}
	_, err = c.openssl(ctx, "ca", "-batch", "-config", ca.cnf(), "-revoke", certPath, "-crl_reason", canon)
	return err
}

// RevokeWithInvalidity revokes like [OpenSSLCA.Revoke] with reason
// keyCompromise (openssl ca -crl_compromise) or CACompromise
// (-crl_CA_compromise), recording invalidity (second precision) as the
// invalidityDate extension of the CRL entry and of the OCSP answer.
func (c *OpenSSLCA) RevokeWithInvalidity(certPath, reason string, invalidity time.Time) error {
	var flag string
	switch {
	case strings.EqualFold(reason, "keyCompromise"):
		flag = "-crl_compromise"
	case strings.EqualFold(reason, "CACompromise"):
		flag = "-crl_CA_compromise"
	default:
		return fmt.Errorf("e2e: openssl records an invalidity date only with keyCompromise or CACompromise, not %q", reason)
	}
	ca, _, err := c.issuerOf(certPath)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	ca.mu.Lock()
	defer ca.mu.Unlock()
	_, err = c.openssl(ctx, "ca", "-batch", "-config", ca.cnf(), "-revoke", certPath,
		flag, invalidity.UTC().Format("20060102150405Z"))
	return err
}

// RevokeIntermediate is Revoke(IntermediatePath(), reason), in the root's database.
func (c *OpenSSLCA) RevokeIntermediate(reason string) error {
	return c.Revoke(c.IntermediatePath(), reason)
}

// releaseHold resets serial's index entry to valid if it is on hold.
// The caller holds ca.mu.
func (ca *osslCA) releaseHold(serial *big.Int) (bool, error) {
	data, err := os.ReadFile(ca.path("index.txt"))
	if err != nil {
		return false, fmt.Errorf("e2e: %w", err)
	}
	lines := strings.Split(string(data), "\n")
	released := false
	for i, line := range lines {
		f := strings.Split(line, "\t")
		if len(f) != 6 || f[0] != "R" {
			continue
		}
		s, ok := new(big.Int).SetString(f[3], 16)
		if !ok || s.Cmp(serial) != 0 {
			continue
		}
		if _, why, _ := strings.Cut(f[2], ","); !strings.HasPrefix(why, "certificateHold") && !strings.HasPrefix(why, "holdInstruction") {
			return false, fmt.Errorf("e2e: serial %X is revoked (%s), not on hold", serial, why)
		}
		f[0], f[2] = "V", ""
		lines[i] = strings.Join(f, "\t")
		released = true
	}
	if !released {
		return false, nil
	}
	return true, osslWriteFile(ca.path("index.txt"), []byte(strings.Join(lines, "\n")))
}
