package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Names of the certificate authorities an [OpenSSLCA] runs, as used in file
// names, CRL URLs and the *For / *Of methods.
const (
	CANameRoot         = "root"         // self-signed root; issues the intermediate
	CANameIntermediate = "intermediate" // issues the leaves
	CANameTSARoot      = "tsa-root"     // self-signed root of the TSA chain (CAOptions.TSA)
)

// ErrOpenSSLUnsupported is wrapped by the error [NewOpenSSLCA] returns when
// the openssl binary is missing or older than OpenSSL 3.0 (the harness needs
// -crl_lastupdate/-crl_nextupdate and -crlsec, new in 3.0).
var ErrOpenSSLUnsupported = errors.New("e2e: openssl 3.x not available")

// CRLMode is a fault the CRL front injects; see [OpenSSLCA.SetCRLMode].
type CRLMode string

// CRL front modes.
const (
	CRLModeOK       CRLMode = "ok"       // serve the published DER
	CRLMode500      CRLMode = "500"      // HTTP 500
	CRLModeGarbage  CRLMode = "garbage"  // HTTP 200 with bytes that are not a CRL
	CRLModeSlow     CRLMode = "slow"     // stall CAOptions.SlowDelay, then serve as "ok"
	CRLModeWrongKey CRLMode = "wrongkey" // a CRL with the CA's name, signed by another key (base CRL only)
	CRLModeExpired  CRLMode = "expired"  // a CRL whose nextUpdate is a day in the past (base CRL only)
	CRLModeHuge     CRLMode = "huge"     // HTTP 200 with 33 MiB (over notation-core-go's 32 MiB cap)
)

// OCSPMode is a fault the OCSP front injects; see [OpenSSLCA.SetOCSPMode].
type OCSPMode string

// OCSP front modes. The ones that give a signed response run the real
// openssl ocsp responder with different arguments.
const (
	OCSPModeOK           OCSPMode = "ok"           // openssl's answer from the CA's index
	OCSPModeUnknown      OCSPMode = "unknown"      // openssl answers from an empty index: status unknown
	OCSPModeNoNextUpdate OCSPMode = "nonextupdate" // openssl run without -nmin: no nextUpdate (notation-core-go: "expired")
	OCSPModeBadSig       OCSPMode = "badsig"       // openssl -badsig: last signature byte corrupted
	OCSPModeNoCerts      OCSPMode = "nocerts"      // openssl -resp_no_certs: delegated responder cert left out
	OCSPMode500          OCSPMode = "500"          // HTTP 500
	OCSPModeGarbage      OCSPMode = "garbage"      // HTTP 200 with bytes that are not an OCSP response
	OCSPModeSlow         OCSPMode = "slow"         // stall CAOptions.SlowDelay, then answer as "ok"
)

const (
	osslDefaultValidity  = 24 * time.Hour
	osslDefaultSlowDelay = 7 * time.Second // past notation-core-go's 2 s OCSP and 5 s CRL timeouts
	osslHandlerTimeout   = 30 * time.Second
	osslHugeSize         = 33 << 20
	osslMaxOCSPRequest   = 64 << 10
	osslMaxServeErrs     = 20
	// osslDeadCDP is where CAOptions.DeadFirstCDP points first: port 1
	// (tcpmux) is never served on loopback, so connecting is refused at once.
	osslDeadCDP = "http://127.0.0.1:1"
)

// osslReasons are the reasons openssl ca -crl_reason accepts.
func osslReasons() []string {
	return []string{"unspecified", "keyCompromise", "CACompromise", "affiliationChanged",
		"superseded", "cessationOfOperation", "certificateHold", "removeFromCRL"}
}

// CAOptions configures [NewOpenSSLCA]. The zero value gives EC P-256 keys,
// CRL and OCSP pointers in every issued certificate, no delta CRLs and no
// TSA chain.
type CAOptions struct {
	// RSA makes every key RSA-3072 instead of EC P-256.
	RSA bool
	// NoCRL leaves crlDistributionPoints out of the issued certificates.
	NoCRL bool
	// NoOCSP leaves authorityInfoAccess (OCSP) out of the issued certificates.
	NoOCSP bool
	// DeadFirstCDP puts a first distribution point http://127.0.0.1:1/<ca>.crl
	// (connection refused) before the real one, as two DistributionPoints.
	DeadFirstCDP bool
	// Delta adds freshestCRL = URI:<front>/<ca>-delta.crl to every base CRL
	// and enables [OpenSSLCA.PublishDeltaCRL].
	Delta bool
	// TSA also creates a TSA chain: root "tsa-root" -> TSA leaf (critical
	// extendedKeyUsage timeStamping) with the same CRL/OCSP pointers.
	TSA bool
	// CRLValidity is nextUpdate - thisUpdate of published CRLs (whole
	// seconds, at least 1 s). Default 24 h.
	CRLValidity time.Duration
	// OCSPValidity is nextUpdate - thisUpdate of OCSP responses (whole
	// minutes, at least 1 min: openssl ocsp -nmin). Default 24 h.
	OCSPValidity time.Duration
	// SlowDelay is how long the "slow" modes stall. Default 7 s.
	SlowDelay time.Duration
	// OpenSSL is the openssl binary. Default "openssl" from PATH.
	OpenSSL string
}

// OpenSSLCA is a small PKI run with the openssl CLI: root -> intermediate ->
// leaves that meet the Notary Project code-signing rules, a delegated OCSP
// signing certificate per CA, an openssl ca database (index.txt, serial,
// crlnumber) per CA, and two loopback HTTP fronts: one serves the CRLs as
// DER, the other answers OCSP by running the real "openssl ocsp" responder
// once per request (-reqin/-respout; openssl itself opens no socket). Both
// fronts can inject faults.
//
// Layout under its folder: <ca>/{ca.key,ca.crt,ocsp.key,ocsp.crt,
// index.txt,openssl.cnf,crl.der,delta.der,impostor.crt,...} for each CA,
// leaves/<name>{.key,.crt,-chain.pem}, tsa/{tsa.key,tsa.crt,tsa-chain.pem},
// impostor.key (signs the CRLModeWrongKey CRLs).
//
// Its methods are safe for concurrent use; openssl runs on one CA's
// database are serialised.
type OpenSSLCA struct {
	dir  string
	opts CAOptions
	bin  string
	env  []string

	root, inter, tsaRoot *osslCA
	cas                  []*osslCA // root, intermediate[, tsa-root]
	tsaKey, tsaCert      string

	crlFront, ocspFront *osslFront
	stopped             chan struct{}

	mu        sync.Mutex
	crlModes  map[string]CRLMode // by CA name; missing means ok
	ocspModes map[string]OCSPMode
	crlHits   map[string]int
	ocspHits  map[string]int
	leaves    map[string]osslLeaf
	serveErrs []error
	stopOnce  sync.Once
	stopErr   error
}

type osslLeaf struct{ cert, key, chain string }

// osslCA is one openssl ca database.
type osslCA struct {
	name, dir, subject string
	cert               *x509.Certificate
	// mu serialises openssl runs on this CA's database and files.
	mu sync.Mutex
}

func (ca *osslCA) path(f string) string  { return filepath.Join(ca.dir, f) }
func (ca *osslCA) cnf() string           { return ca.path("openssl.cnf") }
func (ca *osslCA) certPath() string      { return ca.path("ca.crt") }
func (ca *osslCA) keyPath() string       { return ca.path("ca.key") }
func (ca *osslCA) publishedPath() string { return ca.path("crl.der") }
func (ca *osslCA) deltaPath() string     { return ca.path("delta.der") }

// NewOpenSSLCA binds the CRL and OCSP fronts to free ports of 127.0.0.1
// (their URLs go into the certificates), builds the PKI under dir (created
// if needed) with the openssl CLI, publishes a first (empty) CRL for every
// CA, and only then starts answering. ctx bounds only the set-up; the fronts
// run until [OpenSSLCA.Stop]. A missing or pre-3.0 openssl gives an error
// wrapping [ErrOpenSSLUnsupported].
func NewOpenSSLCA(ctx context.Context, dir string, opts CAOptions) (*OpenSSLCA, error) {
	if opts.CRLValidity <= 0 {
		opts.CRLValidity = osslDefaultValidity
	}
	if opts.OCSPValidity <= 0 {
		opts.OCSPValidity = osslDefaultValidity
	}
	if opts.SlowDelay <= 0 {
		opts.SlowDelay = osslDefaultSlowDelay
	}
	if opts.OpenSSL == "" {
		opts.OpenSSL = "openssl"
	}
	bin, err := exec.LookPath(opts.OpenSSL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOpenSSLUnsupported, err)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	if strings.ContainsAny(dir, "$\"'\\#\n\r") {
		return nil, fmt.Errorf("e2e: folder %q has characters an openssl config cannot hold", dir)
	}
	c := &OpenSSLCA{
		dir: dir, opts: opts, bin: bin,
		env:       append(baseEnv(), "OPENSSL_CONF=/dev/null"), // -config is passed where one is needed
		stopped:   make(chan struct{}),
		crlModes:  map[string]CRLMode{},
		ocspModes: map[string]OCSPMode{},
		crlHits:   map[string]int{},
		ocspHits:  map[string]int{},
		leaves:    map[string]osslLeaf{},
	}
	if out, err := runOK(ctx, c.env, "", bin, "version"); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrOpenSSLUnsupported, err)
	} else if !osslVersionOK(out) {
		return nil, fmt.Errorf("%w: %s reports %q", ErrOpenSSLUnsupported, bin, strings.TrimSpace(out))
	}
	for _, d := range []string{"leaves", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("e2e: %w", err)
		}
	}
	if c.crlFront, err = newOsslFront(http.HandlerFunc(c.serveCRL)); err != nil {
		return nil, err
	}
	if c.ocspFront, err = newOsslFront(http.HandlerFunc(c.serveOCSP)); err != nil {
		_ = c.crlFront.stop()
		return nil, err
	}
	if err := c.build(ctx); err != nil {
		_ = c.Stop()
		return nil, err
	}
	if err := c.publishCRL(ctx); err != nil {
		_ = c.Stop()
		return nil, err
	}
	c.crlFront.start()
	c.ocspFront.start()
	return c, nil
}

// NewOpenSSLCAT is [NewOpenSSLCA] in a temporary folder. It ends the test
// (t.Fatal when [Required], else t.Skip) when openssl 3.x is missing, fails
// it on any other error, and stops the fronts in t.Cleanup (reporting a
// failed stop with t.Error).
func NewOpenSSLCAT(t testing.TB, opts CAOptions) *OpenSSLCA {
	t.Helper()
	dir := t.TempDir() // registered first, so removed after Stop
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := NewOpenSSLCA(ctx, dir, opts)
	if errors.Is(err, ErrOpenSSLUnsupported) {
		skipOrFatal(t, err.Error()+" (apt-get install openssl)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// osslVersionOK reports whether "openssl version" output names OpenSSL 3 or later.
func osslVersionOK(out string) bool {
	f := strings.Fields(out)
	if len(f) < 2 || f[0] != "OpenSSL" {
		return false
	}
	major, err := strconv.Atoi(strings.SplitN(f[1], ".", 2)[0])
	return err == nil && major >= 3
}

func (c *OpenSSLCA) openssl(ctx context.Context, args ...string) (string, error) {
	return runOK(ctx, c.env, c.dir, c.bin, args...)
}

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
	section := func(name, crlnumber, cert, key string) {
		fmt.Fprintf(&b, "[ %s ]\ndir = %s\ndatabase = $dir/index.txt\nnew_certs_dir = $dir/newcerts\nserial = $dir/serial\n", name, ca.dir)
		fmt.Fprintf(&b, "crlnumber = $dir/%s\ncertificate = $dir/%s\nprivate_key = $dir/%s\n", crlnumber, cert, key)
		b.WriteString("default_md = sha256\ndefault_days = 365\ndefault_crl_days = 1\npolicy = policy_any\n" +
			"unique_subject = no\npreserve = yes\ncopy_extensions = none\nemail_in_dn = no\ncrl_extensions = crl_ext\n\n")
	}
	b.WriteString("[ ca ]\ndefault_ca = ca_default\n\n")
	section("ca_default", "crlnumber", "ca.crt", "ca.key")
	section("ca_aux", "crlnumber.aux", "ca.crt", "ca.key")
	section("ca_impostor", "crlnumber.imp", "impostor.crt", "../impostor.key")
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
	return b.String()
}

// IssueLeaf creates a code-signing leaf signed by the intermediate:
// leaves/<name>.key (PKCS#8 PEM), leaves/<name>.crt and
// leaves/<name>-chain.pem (leaf, intermediate, root; see [OpenSSLCA.ChainPath]).
// subject is in openssl form ("/C=US/ST=WA/O=Acme/CN=signer") or
// comma-separated form ("C=US, ST=WA, O=Acme, CN=signer", no escapes); empty
// means "/C=US/ST=WA/O=Notation PKCS11 E2E/CN=<name>". name may hold
// letters, digits, '.', '_' and '-', and must be new.
func (c *OpenSSLCA) IssueLeaf(name, subject string) (certPath, keyPath string, err error) {
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
		err = c.issue(ctx, c.inter, l.key, subj, "ext_leaf", "365", l.cert)
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

// PublishCRL runs openssl ca -gencrl for every CA (-crlsec from
// CAOptions.CRLValidity) and serves the result as DER at [OpenSSLCA.CRLURLOf].
// With CAOptions.Delta it also keeps that CRL as the delta base and publishes
// an empty delta CRL against it (see [OpenSSLCA.PublishDeltaCRL]).
func (c *OpenSSLCA) PublishCRL() error {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	return c.publishCRL(ctx)
}

func (c *OpenSSLCA) publishCRL(ctx context.Context) error {
	return c.parallel(len(c.cas), func(i int) error {
		ca := c.cas[i]
		ca.mu.Lock()
		defer ca.mu.Unlock()
		pemCRL, err := c.genCRL(ctx, ca, "ca_default")
		if err != nil {
			return err
		}
		if err := osslWriteFile(ca.publishedPath(), osslPEMToDER(pemCRL)); err != nil {
			return err
		}
		if !c.opts.Delta {
			return nil
		}
		if err := osslWriteFile(ca.path("base.pem"), pemCRL); err != nil {
			return err
		}
		return c.makeDelta(ctx, ca)
	})
}

// PublishDeltaCRL publishes, for every CA, a delta CRL against the base that
// the last [OpenSSLCA.PublishCRL] published: openssl ca -gencrl makes a newer
// full CRL (not published) and "openssl crl -in base -gendelta newer" keeps
// the entries the base lacks, with DeltaCRLIndicator = the base's number and
// CRL number = the newer one's. It needs CAOptions.Delta. OpenSSL's delta
// holds only serials absent from the base, so it cannot carry a
// removeFromCRL for a serial the base lists as on hold.
func (c *OpenSSLCA) PublishDeltaCRL() error {
	if !c.opts.Delta {
		return errors.New("e2e: PublishDeltaCRL needs CAOptions.Delta")
	}
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	return c.parallel(len(c.cas), func(i int) error {
		ca := c.cas[i]
		ca.mu.Lock()
		defer ca.mu.Unlock()
		return c.makeDelta(ctx, ca)
	})
}

// makeDelta diffs a fresh full CRL against base.pem. The caller holds ca.mu.
func (c *OpenSSLCA) makeDelta(ctx context.Context, ca *osslCA) error {
	newer, err := c.genCRL(ctx, ca, "ca_default")
	if err != nil {
		return err
	}
	newerPath := ca.path("newer.pem")
	if err := osslWriteFile(newerPath, newer); err != nil {
		return err
	}
	out := ca.path("delta.tmp")
	defer os.Remove(out)
	if _, err := c.openssl(ctx, "crl", "-in", ca.path("base.pem"), "-gendelta", newerPath,
		"-key", ca.keyPath(), "-sha256", "-outform", "DER", "-out", out); err != nil {
		return err
	}
	return os.Rename(out, ca.deltaPath())
}

// genCRL runs openssl ca -gencrl with the given config section and returns
// the PEM. The caller holds ca.mu.
func (c *OpenSSLCA) genCRL(ctx context.Context, ca *osslCA, section string, extra ...string) ([]byte, error) {
	f, err := os.CreateTemp(filepath.Join(c.dir, "tmp"), "crl-*.pem")
	if err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	f.Close()
	defer os.Remove(f.Name())
	args := []string{"ca", "-batch", "-config", ca.cnf(), "-name", section, "-gencrl", "-out", f.Name()}
	if len(extra) == 0 {
		secs := max(int64(c.opts.CRLValidity/time.Second), 1)
		extra = []string{"-crlsec", strconv.FormatInt(secs, 10)}
	}
	if _, err := c.openssl(ctx, append(args, extra...)...); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(f.Name())
	if err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	return data, nil
}

func osslPEMToDER(data []byte) []byte {
	if b, _ := pem.Decode(data); b != nil {
		return b.Bytes
	}
	return data
}

// Accessors.

// Dir returns the folder the PKI lives in.
func (c *OpenSSLCA) Dir() string { return c.dir }

// RootPath returns the root certificate (PEM): the trust anchor.
func (c *OpenSSLCA) RootPath() string { return c.root.certPath() }

// IntermediatePath returns the intermediate certificate (PEM).
func (c *OpenSSLCA) IntermediatePath() string { return c.inter.certPath() }

// OCSPSignerPath returns the delegated OCSP responder certificate (PEM) of
// the CA named ca, or "" for an unknown name.
func (c *OpenSSLCA) OCSPSignerPath(ca string) string {
	if x := c.caByName(ca); x != nil {
		return x.path("ocsp.crt")
	}
	return ""
}

// ChainPath returns leaves/<name>-chain.pem (leaf, intermediate, root) for a
// leaf made by IssueLeaf, or "".
func (c *OpenSSLCA) ChainPath(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leaves[name].chain
}

// TSACertPath returns the TSA leaf certificate (PEM), or "" without CAOptions.TSA.
func (c *OpenSSLCA) TSACertPath() string { return c.tsaCert }

// TSAKeyPath returns the TSA leaf's private key (PKCS#8 PEM), or "".
func (c *OpenSSLCA) TSAKeyPath() string { return c.tsaKey }

// TSARootPath returns the TSA root certificate (PEM), or "".
func (c *OpenSSLCA) TSARootPath() string {
	if c.tsaRoot == nil {
		return ""
	}
	return c.tsaRoot.certPath()
}

// TSAChainPath returns tsa/tsa-chain.pem (TSA leaf, TSA root), or "".
func (c *OpenSSLCA) TSAChainPath() string {
	if c.tsaRoot == nil {
		return ""
	}
	return filepath.Join(c.dir, "tsa", "tsa-chain.pem")
}

// CRLURL returns the CRL URL in the leaves' crlDistributionPoints (the
// intermediate's CRL).
func (c *OpenSSLCA) CRLURL() string { return c.CRLURLOf(CANameIntermediate) }

// CRLURLOf returns http://127.0.0.1:PORT/<ca>.crl, the CRL of the CA named ca.
func (c *OpenSSLCA) CRLURLOf(ca string) string {
	return "http://" + c.crlFront.addr + "/" + ca + ".crl"
}

// DeltaCRLURLOf returns http://127.0.0.1:PORT/<ca>-delta.crl.
func (c *OpenSSLCA) DeltaCRLURLOf(ca string) string {
	return "http://" + c.crlFront.addr + "/" + ca + "-delta.crl"
}

// OCSPURL returns http://127.0.0.1:PORT, the OCSP responder of every CA
// (the front picks the CA by the request's issuer hashes).
func (c *OpenSSLCA) OCSPURL() string { return "http://" + c.ocspFront.addr }

func (c *OpenSSLCA) caByName(name string) *osslCA {
	for _, ca := range c.cas {
		if ca.name == name {
			return ca
		}
	}
	return nil
}

// Fault injection.

// SetCRLMode sets the mode of every CA's CRL (and delta CRL) URL.
func (c *OpenSSLCA) SetCRLMode(mode CRLMode) error {
	if !osslCRLModeOK(mode) {
		return fmt.Errorf("e2e: unknown CRL mode %q", mode)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ca := range c.cas {
		c.crlModes[ca.name] = mode
	}
	return nil
}

// SetCRLModeFor sets the mode of one CA's CRL URLs.
func (c *OpenSSLCA) SetCRLModeFor(ca string, mode CRLMode) error {
	if !osslCRLModeOK(mode) {
		return fmt.Errorf("e2e: unknown CRL mode %q", mode)
	}
	if c.caByName(ca) == nil {
		return fmt.Errorf("e2e: unknown CA %q", ca)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.crlModes[ca] = mode
	return nil
}

// SetOCSPMode sets the OCSP mode for every CA.
func (c *OpenSSLCA) SetOCSPMode(mode OCSPMode) error {
	if !osslOCSPModeOK(mode) {
		return fmt.Errorf("e2e: unknown OCSP mode %q", mode)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ca := range c.cas {
		c.ocspModes[ca.name] = mode
	}
	return nil
}

// SetOCSPModeFor sets the OCSP mode for requests about certificates that
// the CA named ca issued.
func (c *OpenSSLCA) SetOCSPModeFor(ca string, mode OCSPMode) error {
	if !osslOCSPModeOK(mode) {
		return fmt.Errorf("e2e: unknown OCSP mode %q", mode)
	}
	if c.caByName(ca) == nil {
		return fmt.Errorf("e2e: unknown CA %q", ca)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ocspModes[ca] = mode
	return nil
}

// SetCRLDown closes (true) or reopens (false) the CRL front's listener: while
// down, connections are refused. Reopening binds the same port again and
// fails if another process took it meanwhile.
func (c *OpenSSLCA) SetCRLDown(down bool) error { return c.crlFront.setDown(down) }

// SetOCSPDown is [OpenSSLCA.SetCRLDown] for the OCSP front.
func (c *OpenSSLCA) SetOCSPDown(down bool) error { return c.ocspFront.setDown(down) }

func osslCRLModeOK(m CRLMode) bool {
	switch m {
	case CRLModeOK, CRLMode500, CRLModeGarbage, CRLModeSlow, CRLModeWrongKey, CRLModeExpired, CRLModeHuge:
		return true
	}
	return false
}

func osslOCSPModeOK(m OCSPMode) bool {
	switch m {
	case OCSPModeOK, OCSPModeUnknown, OCSPModeNoNextUpdate, OCSPModeBadSig, OCSPModeNoCerts,
		OCSPMode500, OCSPModeGarbage, OCSPModeSlow:
		return true
	}
	return false
}

// CRLFetches returns how many requests the CRL front received for the CA
// named ca (base and delta).
func (c *OpenSSLCA) CRLFetches(ca string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.crlHits[ca]
}

// OCSPRequests returns how many OCSP requests were routed to the CA named ca
// ("" counts requests no CA matched).
func (c *OpenSSLCA) OCSPRequests(ca string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ocspHits[ca]
}

// ServeErr returns the failures of the fronts themselves (an openssl run
// that failed while serving, say), joined; nil if none. Injected faults and
// clients that hang up are not failures.
func (c *OpenSSLCA) ServeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return errors.Join(c.serveErrs...)
}

func (c *OpenSSLCA) recordErr(r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client left or the front stopped
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.serveErrs) < osslMaxServeErrs {
		c.serveErrs = append(c.serveErrs, fmt.Errorf("e2e: %s %s: %w", r.Method, r.URL.Path, err))
	}
}

// Stop closes both fronts and waits for the requests in flight. It is safe
// to call more than once and concurrently; the files stay in place.
func (c *OpenSSLCA) Stop() error {
	c.stopOnce.Do(func() {
		close(c.stopped)
		var errs []error
		for _, f := range []*osslFront{c.crlFront, c.ocspFront} {
			if f != nil {
				errs = append(errs, f.stop())
			}
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

// stall waits SlowDelay; false if the request or the CA ended first.
func (c *OpenSSLCA) stall(ctx context.Context) bool {
	t := time.NewTimer(c.opts.SlowDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-c.stopped:
	}
	return false
}

// CRL front.

func (c *OpenSSLCA) serveCRL(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	base, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".crl")
	name, delta := strings.CutSuffix(base, "-delta")
	ca := c.caByName(name)
	if !ok || ca == nil {
		http.NotFound(w, r)
		return
	}
	c.mu.Lock()
	c.crlHits[ca.name]++
	mode := c.crlModes[ca.name]
	c.mu.Unlock()

	const ctype = "application/pkix-crl"
	var der []byte
	var err error
	switch mode {
	case CRLMode500:
		http.Error(w, "injected failure", http.StatusInternalServerError)
		return
	case CRLModeGarbage:
		w.Header().Set("Content-Type", ctype)
		_, _ = io.WriteString(w, "this is not a CRL\n")
		return
	case CRLModeHuge:
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Length", strconv.Itoa(osslHugeSize))
		if r.Method == http.MethodHead {
			return
		}
		chunk := make([]byte, 64<<10)
		for n := 0; n < osslHugeSize && r.Context().Err() == nil; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		return
	case CRLModeSlow:
		if !c.stall(r.Context()) {
			return
		}
	case CRLModeWrongKey, CRLModeExpired:
		if !delta {
			der, err = c.variantCRL(r.Context(), ca, mode)
			if err != nil {
				c.recordErr(r, err)
				http.Error(w, "openssl failed", http.StatusInternalServerError)
				return
			}
		}
	}
	if der == nil {
		path := ca.publishedPath()
		if delta {
			path = ca.deltaPath()
		}
		if der, err = os.ReadFile(path); errors.Is(err, os.ErrNotExist) {
			http.NotFound(w, r)
			return
		} else if err != nil {
			c.recordErr(r, err)
			http.Error(w, "read failed", http.StatusInternalServerError)
			return
		}
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(der)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(der)
	}
}

// variantCRL generates, from the current database, a CRL signed by the
// impostor key (same issuer name) or one whose nextUpdate is a day past.
func (c *OpenSSLCA) variantCRL(ctx context.Context, ca *osslCA, mode CRLMode) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, osslHandlerTimeout)
	defer cancel()
	ca.mu.Lock()
	defer ca.mu.Unlock()
	var data []byte
	var err error
	if mode == CRLModeWrongKey {
		data, err = c.genCRL(ctx, ca, "ca_impostor")
	} else {
		now := time.Now().UTC()
		data, err = c.genCRL(ctx, ca, "ca_aux",
			"-crl_lastupdate", now.Add(-48*time.Hour).Format("20060102150405Z"),
			"-crl_nextupdate", now.Add(-24*time.Hour).Format("20060102150405Z"))
	}
	if err != nil {
		return nil, err
	}
	return osslPEMToDER(data), nil
}

// OCSP front.

func (c *OpenSSLCA) serveOCSP(w http.ResponseWriter, r *http.Request) {
	var der []byte
	switch r.Method {
	case http.MethodGet:
		var err error
		if der, err = osslDecodeOCSPGet(r.URL.EscapedPath()); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	case http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, osslMaxOCSPRequest+1))
		if err != nil {
			return
		}
		if len(body) > osslMaxOCSPRequest {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return
		}
		der = body
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ca := c.caForOCSP(der)
	key := ""
	if ca != nil {
		key = ca.name
	}
	c.mu.Lock()
	c.ocspHits[key]++
	mode := c.ocspModes[key]
	c.mu.Unlock()
	if ca == nil {
		ca = c.inter // openssl then answers "unknown" for a foreign issuer
	}

	const ctype = "application/ocsp-response"
	switch mode {
	case OCSPMode500:
		http.Error(w, "injected failure", http.StatusInternalServerError)
		return
	case OCSPModeGarbage:
		w.Header().Set("Content-Type", ctype)
		_, _ = io.WriteString(w, "this is not an OCSP response\n")
		return
	case OCSPModeSlow:
		if !c.stall(r.Context()) {
			return
		}
	}
	resp, err := c.ocspAnswer(r.Context(), ca, der, mode)
	if err != nil {
		c.recordErr(r, err)
		http.Error(w, "openssl failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	_, _ = w.Write(resp)
}

// osslDecodeOCSPGet decodes the RFC 6960 A.1 GET form: the path is the
// URL-encoded base64 of the DER request. notation-core-go sends
// url.QueryEscape(base64) joined to the responder URL.
func osslDecodeOCSPGet(escapedPath string) ([]byte, error) {
	p := strings.TrimPrefix(escapedPath, "/")
	if p == "" {
		return nil, errors.New("empty OCSP GET request")
	}
	s, err := url.PathUnescape(p) // keeps '+', unlike QueryUnescape
	if err != nil {
		return nil, fmt.Errorf("bad OCSP GET request: %w", err)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if der, err := enc.DecodeString(s); err == nil {
			return der, nil
		}
	}
	return nil, errors.New("bad OCSP GET request: not base64")
}

// caForOCSP returns the CA whose name and key hashes the request's CertID
// carries, or nil.
func (c *OpenSSLCA) caForOCSP(der []byte) *osslCA {
	req, err := ocsp.ParseRequest(der)
	if err != nil || !req.HashAlgorithm.Available() {
		return nil
	}
	for _, ca := range c.cas {
		var spki struct {
			Algorithm pkix.AlgorithmIdentifier
			PublicKey asn1.BitString
		}
		if _, err := asn1.Unmarshal(ca.cert.RawSubjectPublicKeyInfo, &spki); err != nil {
			continue
		}
		if bytes.Equal(osslHash(req.HashAlgorithm, spki.PublicKey.RightAlign()), req.IssuerKeyHash) &&
			bytes.Equal(osslHash(req.HashAlgorithm, ca.cert.RawSubject), req.IssuerNameHash) {
			return ca
		}
	}
	return nil
}

func osslHash(h crypto.Hash, data []byte) []byte {
	x := h.New()
	x.Write(data)
	return x.Sum(nil)
}

// ocspAnswer runs openssl ocsp once as the responder of ca for the DER
// request: -index index.txt -CA ca.crt -rsigner ocsp.crt -rkey ocsp.key
// -reqin -respout [-nmin N]. A request openssl cannot read gets the
// malformedRequest response its server mode would send.
func (c *OpenSSLCA) ocspAnswer(ctx context.Context, ca *osslCA, req []byte, mode OCSPMode) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, osslHandlerTimeout)
	defer cancel()
	tmp, err := os.MkdirTemp(filepath.Join(c.dir, "tmp"), "ocsp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	reqPath, respPath := filepath.Join(tmp, "req.der"), filepath.Join(tmp, "resp.der")
	if err := os.WriteFile(reqPath, req, 0o600); err != nil {
		return nil, err
	}
	index := ca.path("index.txt")
	if mode == OCSPModeUnknown {
		index = ca.path("index-empty.txt")
	}
	args := []string{"ocsp", "-index", index, "-CA", ca.certPath(), "-rsigner", ca.path("ocsp.crt"),
		"-rkey", ca.path("ocsp.key"), "-reqin", reqPath, "-respout", respPath}
	if mode != OCSPModeNoNextUpdate {
		mins := max(int64(c.opts.OCSPValidity/time.Minute), 1)
		args = append(args, "-nmin", strconv.FormatInt(mins, 10))
	}
	switch mode {
	case OCSPModeBadSig:
		args = append(args, "-badsig")
	case OCSPModeNoCerts:
		args = append(args, "-resp_no_certs")
	}
	ca.mu.Lock()
	_, runErr := c.openssl(ctx, args...)
	ca.mu.Unlock()
	resp, err := os.ReadFile(respPath)
	if runErr != nil || err != nil || len(resp) == 0 {
		if _, perr := ocsp.ParseRequest(req); perr != nil {
			return ocsp.MalformedRequestErrorResponse, nil
		}
		if runErr != nil {
			return nil, runErr
		}
		return nil, fmt.Errorf("openssl ocsp wrote no response: %v", err)
	}
	return resp, nil
}

// osslFront is a loopback HTTP server that can be taken down (listener
// closed: connections refused) and brought back on the same port.
type osslFront struct {
	addr     string
	handler  http.Handler
	mu       sync.Mutex
	srv      *http.Server // nil while down
	served   chan struct{}
	pending  net.Listener // opened, not served yet
	closed   bool
	inflight sync.WaitGroup
}

func newOsslFront(h http.Handler) (*osslFront, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("e2e: listening on 127.0.0.1: %w", err)
	}
	return &osslFront{addr: l.Addr().String(), handler: h, pending: l}, nil
}

// start serves the listener newOsslFront opened. Until then connections
// wait in the listen backlog, so nothing is answered before the PKI exists.
func (f *osslFront) start() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending != nil && !f.closed {
		f.serve(f.pending)
		f.pending = nil
	}
}

// serve starts a server on l. The caller holds f.mu (or owns f).
func (f *osslFront) serve(l net.Listener) {
	srv := &http.Server{
		Handler:           http.HandlerFunc(f.track),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // the harness never prints
	}
	done := make(chan struct{})
	go func() {
		_ = srv.Serve(l)
		close(done)
	}()
	f.srv, f.served = srv, done
}

func (f *osslFront) track(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		http.Error(w, "stopped", http.StatusServiceUnavailable)
		return
	}
	f.inflight.Add(1)
	f.mu.Unlock()
	defer f.inflight.Done()
	f.handler.ServeHTTP(w, r)
}

func (f *osslFront) setDown(down bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errors.New("e2e: the OpenSSLCA was stopped")
	}
	if f.pending != nil {
		return errors.New("e2e: the OpenSSLCA is not started yet")
	}
	switch {
	case down && f.srv != nil:
		err := f.srv.Close() // closes the listener and the open connections
		<-f.served
		f.srv = nil
		if err != nil {
			return fmt.Errorf("e2e: closing %s: %w", f.addr, err)
		}
	case !down && f.srv == nil:
		l, err := net.Listen("tcp", f.addr)
		if err != nil {
			return fmt.Errorf("e2e: reopening %s: %w", f.addr, err)
		}
		f.serve(l)
	}
	return nil
}

func (f *osslFront) stop() error {
	f.mu.Lock()
	f.closed = true
	srv, served := f.srv, f.served
	f.srv = nil
	if f.pending != nil {
		_ = f.pending.Close()
		f.pending = nil
	}
	f.mu.Unlock()
	var err error
	if srv != nil {
		if err = srv.Close(); err != nil {
			err = fmt.Errorf("e2e: closing %s: %w", f.addr, err)
		}
		<-served
	}
	f.inflight.Wait()
	return err
}
