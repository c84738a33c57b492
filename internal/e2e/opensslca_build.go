package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// build creates the keys, certificates and databases.
func (c *OpenSSLCA) build(ctx context.Context) error {
	const org = "/C=US/ST=WA/O=Notation PKCS11 E2E"
	c.root = &osslCA{name: CANameRoot, subject: org + "/CN=E2E OpenSSL Root CA"}
	c.inter = &osslCA{name: CANameIntermediate, subject: org + "/CN=E2E OpenSSL Intermediate CA"}
	c.cas = []*osslCA{c.root, c.inter}
	if c.opts.TSA {
		c.tsaRoot = &osslCA{name: CANameTSARoot, subject: org + "/CN=E2E OpenSSL TSA Root CA"}
		c.cas = append(c.cas, c.tsaRoot)
		if err := os.MkdirAll(filepath.Join(c.dir, "tsa"), 0o700); err != nil {
			return fmt.Errorf("e2e: %w", err)
		}
		c.tsaKey = filepath.Join(c.dir, "tsa", "tsa.key")
		c.tsaCert = filepath.Join(c.dir, "tsa", "tsa.crt")
	}
	// Distinct serial ranges make serials readable across CAs.
	for i, ca := range c.cas {
		ca.dir = filepath.Join(c.dir, ca.name)
		if err := os.MkdirAll(ca.path("newcerts"), 0o700); err != nil {
			return fmt.Errorf("e2e: %w", err)
		}
		files := map[string]string{
			"index.txt":       "",
			"index-empty.txt": "",
			"serial":          fmt.Sprintf("%X001\n", i+1),
			"crlnumber":       "1000\n",
			"crlnumber.aux":   "5000\n",
			"crlnumber.imp":   "9000\n",
			"openssl.cnf":     c.config(ca),
		}
		if ca == c.inter {
			for p := 1; p <= c.opts.Partitions; p++ {
				files[fmt.Sprintf("index-p%d.txt", p)] = ""
				files[fmt.Sprintf("crlnumber-p%d", p)] = fmt.Sprintf("%d000\n", 1+p)
			}
		}
		for f, body := range files {
			if err := os.WriteFile(ca.path(f), []byte(body), 0o600); err != nil {
				return fmt.Errorf("e2e: %w", err)
			}
		}
	}

	// Keys, in parallel (RSA-3072 generation takes up to seconds each).
	// One impostor key serves every CA's impostor certificate.
	impostorKey := filepath.Join(c.dir, "impostor.key")
	keys := []string{impostorKey}
	for _, ca := range c.cas {
		keys = append(keys, ca.keyPath(), ca.path("ocsp.key"))
	}
	if c.opts.TSA {
		keys = append(keys, c.tsaKey)
	}
	if err := c.parallel(len(keys), func(i int) error { return c.genKey(ctx, keys[i]) }); err != nil {
		return err
	}

	// Self-signed certificates: roots, and an impostor per CA (same name,
	// other key) for CRLModeWrongKey.
	type selfSigned struct {
		ca       *osslCA
		key, out string
	}
	var ss []selfSigned
	for _, ca := range c.cas {
		if ca != c.inter {
			ss = append(ss, selfSigned{ca, ca.keyPath(), ca.certPath()})
		}
		ss = append(ss, selfSigned{ca, impostorKey, ca.path("impostor.crt")})
	}
	if err := c.parallel(len(ss), func(i int) error {
		s := ss[i]
		_, err := c.openssl(ctx, "req", "-x509", "-new", "-config", s.ca.cnf(), "-key", s.key,
			"-subj", s.ca.subject, "-sha256", "-days", "3650", "-extensions", "ext_root", "-out", s.out)
		return err
	}); err != nil {
		return err
	}

	// The intermediate, signed by the root.
	if err := c.issue(ctx, c.root, c.inter.keyPath(), c.inter.subject, "ext_ca", "3650", c.inter.certPath()); err != nil {
		return err
	}
	for _, ca := range c.cas {
		cert, err := osslReadCert(ca.certPath())
		if err != nil {
			return err
		}
		ca.cert = cert
	}
	// OCSP signers (and the TSA leaf), each signed by its CA.
	type job struct {
		ca                  *osslCA
		key, subj, ext, out string
	}
	var jobs []job
	for _, ca := range c.cas {
		jobs = append(jobs, job{ca, ca.path("ocsp.key"), strings.Replace(ca.subject, " CA", " OCSP Responder", 1), "ext_ocsp", ca.path("ocsp.crt")})
	}
	if c.opts.TSA {
		jobs = append(jobs, job{c.tsaRoot, c.tsaKey, "/C=US/ST=WA/O=Notation PKCS11 E2E/CN=E2E OpenSSL TSA", "ext_tsa", c.tsaCert})
	}
	if err := c.parallel(len(jobs), func(i int) error {
		j := jobs[i]
		return c.issue(ctx, j.ca, j.key, j.subj, j.ext, "365", j.out)
	}); err != nil {
		return err
	}
	if c.opts.TSA {
		return osslWriteChain(c.TSAChainPath(), c.tsaCert, c.tsaRoot.certPath())
	}
	return nil
}

// parallel runs f(0..n-1) at once and joins the errors.
func (c *OpenSSLCA) parallel(n int, f func(int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *OpenSSLCA) genKey(ctx context.Context, out string) error {
	args := []string{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", out}
	if c.opts.RSA {
		args = []string{"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072", "-out", out}
	}
	_, err := c.openssl(ctx, args...)
	return err
}

// issue makes a CSR for key and subject and has ca sign it with the given
// extensions section of ca's config (openssl ca, recorded in ca's database).
func (c *OpenSSLCA) issue(ctx context.Context, ca *osslCA, key, subject, ext, days, out string) error {
	csr, err := os.CreateTemp(filepath.Join(c.dir, "tmp"), "csr-*.pem")
	if err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	csr.Close()
	defer os.Remove(csr.Name())
	if _, err := c.openssl(ctx, "req", "-new", "-config", ca.cnf(), "-key", key, "-subj", subject, "-out", csr.Name()); err != nil {
		return err
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	_, err = c.openssl(ctx, "ca", "-batch", "-config", ca.cnf(), "-extensions", ext, "-days", days,
		"-notext", "-in", csr.Name(), "-out", out)
	return err
}

// config returns ca's openssl.cnf. Sections ca_aux (expired CRLs) and
// ca_impostor (CRLs signed by another key) share the database but keep their
// own CRL numbers, so the published sequence is not disturbed.
func (c *OpenSSLCA) config(ca *osslCA) string {
	var b strings.Builder
	b.WriteString("[ ca ]\ndefault_ca = ca_default\n\n")
	osslSection(&b, ca, "ca_default", "index.txt", "crlnumber", "ca.crt", "ca.key", "crl_ext")
	osslSection(&b, ca, "ca_aux", "index.txt", "crlnumber.aux", "ca.crt", "ca.key", "crl_ext")
	osslSection(&b, ca, "ca_impostor", "index.txt", "crlnumber.imp", "impostor.crt", "../impostor.key", "crl_ext")
	b.WriteString(`[ policy_any ]
countryName = optional
stateOrProvinceName = optional
localityName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
emailAddress = optional

[ req ]
distinguished_name = req_dn
string_mask = utf8only

[ req_dn ]

[ crl_ext ]
authorityKeyIdentifier = keyid:always
`)
	if c.opts.Delta {
		fmt.Fprintf(&b, "freshestCRL = URI:%s\n", c.DeltaCRLURLOf(ca.name))
	}

	// Pointers to this CA's CRL and OCSP, for what it issues.
	var ptr strings.Builder
	if !c.opts.NoCRL {
		if c.opts.DeadFirstCDP {
			ptr.WriteString("crlDistributionPoints = cdp_dead, cdp_main\n")
		} else {
			ptr.WriteString("crlDistributionPoints = cdp_main\n")
		}
	}
	if !c.opts.NoOCSP {
		fmt.Fprintf(&ptr, "authorityInfoAccess = OCSP;URI:%s\n", c.OCSPURL())
	}
	fmt.Fprintf(&b, `
[ ext_root ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ ext_ca ]
basicConstraints = critical,CA:true,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
%[1]s
[ ext_leaf ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
%[1]s
[ ext_tsa ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
%[1]s
[ ext_ocsp ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,OCSPSigning
noCheck = ignored
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ cdp_dead ]
fullname = URI:%[2]s/%[3]s.crl

[ cdp_main ]
fullname = URI:%[4]s
`, ptr.String(), osslDeadCDP, ca.name, c.CRLURLOf(ca.name))
	if ca == c.inter {
		c.partitionConfig(&b, ca)
	}
	return b.String()
}

// osslSection writes an openssl ca section: the database, CRL number file,
// CA certificate and key (relative to ca.dir) and CRL extensions section.
func osslSection(b *strings.Builder, ca *osslCA, name, database, crlnumber, cert, key, crlExt string) {
	fmt.Fprintf(b, "[ %s ]\ndir = %s\ndatabase = $dir/%s\nnew_certs_dir = $dir/newcerts\nserial = $dir/serial\n", name, ca.dir, database)
	fmt.Fprintf(b, "crlnumber = $dir/%s\ncertificate = $dir/%s\nprivate_key = $dir/%s\n", crlnumber, cert, key)
	b.WriteString("default_md = sha256\ndefault_days = 365\ndefault_crl_days = 1\npolicy = policy_any\n" +
		"unique_subject = no\npreserve = yes\ncopy_extensions = none\nemail_in_dn = no\n")
	fmt.Fprintf(b, "crl_extensions = %s\n\n", crlExt)
}
