package e2e

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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
	// CRLModeOtherPartition serves, at partition p's URL, the current CRL
	// of partition p+1 (the last one: partition 1): a valid CRL of the right
	// CA for the wrong partition (CAOptions.Partitions). Other URLs answer
	// as "ok".
	CRLModeOtherPartition CRLMode = "otherpartition"
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
	osslMaxPartitions    = 9
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
	// Partitions, when 2 or more, makes the intermediate also publish that
	// many partitioned CRLs (RFC 5280 section 5.2.5): partition p is served
	// at [OpenSSLCA.PartitionCRLURL](p), carries a critical
	// issuingDistributionPoint whose fullname is that URL, and lists only
	// the revoked leaves issued into it with [OpenSSLCA.IssueLeafIn]. Such
	// leaves name only their partition's URL as distribution point.
	Partitions int
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
// index.txt,openssl.cnf,crl.der,delta.der,impostor.crt,crl-pN.der,...} for each CA,
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
	parts     map[int][]*big.Int // partition -> serials of its leaves
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
	if opts.Partitions < 0 || opts.Partitions == 1 || opts.Partitions > osslMaxPartitions {
		return nil, fmt.Errorf("e2e: CAOptions.Partitions is %d: use 0 (none) or 2..%d", opts.Partitions, osslMaxPartitions)
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
		parts:     map[int][]*big.Int{},
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
