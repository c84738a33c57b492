package revocation

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// FuzzParseCRL: the CRL parser and indexer never panic, and a CRL they
// accept is one the standard library accepts with the same content; the
// index survives its file encoding.
func FuzzParseCRL(f *testing.F) {
	for _, der := range sampleCRLs(f) {
		f.Add(der)
	}
	issuer := newRoot(f, "Sample CA").cert
	f.Fuzz(func(t *testing.T, der []byte) {
		h, entries, err := parseCRL(der, crlLimits{maxSize: 1 << 20})
		if err != nil {
			return
		}
		checkAgainstStdlib(t, der, h, entries)
		_ = h.checkSignature(issuer)
		idx := indexFromHeader(h, issuer)
		idx.setEntries(entries)
		idx.der, idx.derLen = sha256.Sum256(der), int64(len(der))
		enc, err := encodeIndex(idx, der)
		if err != nil {
			t.Fatal(err)
		}
		_, got, _, err := decodeIndexEntries(enc)
		if err != nil || len(got) != len(entries) {
			t.Fatalf("index round trip: %v", err)
		}
		for i := range got {
			e := entries[i]
			e.ord = uint32(i)
			if got[i] != e {
				t.Fatalf("index round trip: entry %d differs", i)
			}
		}
		if rl, err := x509.ParseRevocationList(der); err == nil {
			for _, re := range rl.RevokedCertificateEntries {
				evaluate(&x509.Certificate{SerialNumber: re.SerialNumber}, idx, idx, time.Unix(1, 0))
			}
		}
	})
}

// FuzzOCSPResponse: the OCSP parser and verifier never panic, and agree
// with golang.org/x/crypto/ocsp when both accept a single response.
func FuzzOCSPResponse(f *testing.F) {
	w := ocspFuzzWorld(f)
	for _, der := range w.seeds {
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		r, err := parseOCSPResponse(der)
		if err != nil {
			return
		}
		if _, err := r.verify(w.leaf, w.issuer.cert, testNow); err == nil && len(r.singles) == 0 {
			t.Fatal("verified a response without single responses")
		}
		if len(r.singles) != 1 {
			return
		}
		xr, err := ocsp.ParseResponse(der, nil)
		if err != nil {
			return // x/crypto also checks embedded certificates and rejects critical single extensions
		}
		s := r.singles[0]
		status := map[ocspStatus]int{ocspGood: ocsp.Good, ocspRevoked: ocsp.Revoked, ocspUnknown: ocsp.Unknown}[s.status]
		if xr.Status != status || xr.SerialNumber.Cmp(s.serial) != 0 || !xr.ThisUpdate.Equal(s.thisUpdate) ||
			!xr.NextUpdate.Equal(s.nextUpdate) || !xr.RevokedAt.Equal(s.revokedAt) ||
			s.reason >= 0 && xr.RevocationReason != s.reason {
			t.Fatalf("disagreement with x/crypto/ocsp: %+v vs %+v", s, xr)
		}
	})
}

type ocspFuzz struct {
	issuer *testCA
	leaf   *x509.Certificate
	seeds  [][]byte
}

func ocspFuzzWorld(t testing.TB) *ocspFuzz {
	root := newRoot(t, "Fuzz Root")
	inter := root.issueCA(t, "Fuzz Intermediate", endpoints{})
	leaf := inter.issueLeaf(t, "Fuzz Leaf", endpoints{})
	resp := inter.issueResponder(t, true, time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC))
	seeds := [][]byte{
		inter.signOCSP(t, leaf, ocspSpec{status: ocsp.Good}),
		inter.signOCSP(t, leaf, ocspSpec{status: ocsp.Revoked, revokedAt: testNow.Add(-time.Hour), reason: ocsp.CertificateHold,
			exts: []pkixExt{invalidityExt(t, testNow.Add(-2*time.Hour))}}),
		inter.signOCSP(t, leaf, ocspSpec{status: ocsp.Unknown, noNext: true}),
		inter.signOCSP(t, leaf, ocspSpec{status: ocsp.Good, responder: resp}),
		ocsp.TryLaterErrorResponse,
	}
	return &ocspFuzz{issuer: inter, leaf: leaf, seeds: seeds}
}

// TestFuzzSeeds checks the checked-in seeds of FuzzParseCRL and
// FuzzOCSPResponse: as many as the generators make, each a CRL this parser
// and the standard library read alike, or an OCSP response x/crypto/ocsp
// reads. The generators sign with ECDSA, so their bytes differ from run to
// run and cannot be compared. REVOCATION_WRITE_FUZZ_SEEDS=1 rewrites them.
func TestFuzzSeeds(t *testing.T) {
	crls, ocsps := sampleCRLs(t), ocspFuzzWorld(t).seeds
	if os.Getenv("REVOCATION_WRITE_FUZZ_SEEDS") == "1" {
		writeSeeds(t, "FuzzParseCRL", crls)
		writeSeeds(t, "FuzzOCSPResponse", ocsps)
	}
	for i, der := range readSeeds(t, "FuzzParseCRL", len(crls)) {
		h, entries, err := parseCRL(der, crlLimits{})
		if err != nil {
			t.Fatalf("FuzzParseCRL/seed-%02d: %v; regenerate with REVOCATION_WRITE_FUZZ_SEEDS=1 go test -run TestFuzzSeeds ./revocation/", i, err)
		}
		checkAgainstStdlib(t, der, h, entries)
	}
	for i, der := range readSeeds(t, "FuzzOCSPResponse", len(ocsps)) {
		var re ocsp.ResponseError
		if _, err := ocsp.ParseResponse(der, nil); err != nil && !errors.As(err, &re) {
			t.Fatalf("FuzzOCSPResponse/seed-%02d: %v; regenerate with REVOCATION_WRITE_FUZZ_SEEDS=1 go test -run TestFuzzSeeds ./revocation/", i, err)
		}
	}
}

func writeSeeds(t *testing.T, target string, seeds [][]byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readSeeds reads testdata/fuzz/TARGET/seed-00 .. seed-(n-1), and fails when
// one is missing or a seed-n exists (the generator changed).
func readSeeds(t *testing.T, target string, n int) [][]byte {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	var out [][]byte
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("seed-%02d", i))
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%v; regenerate with REVOCATION_WRITE_FUZZ_SEEDS=1 go test -run TestFuzzSeeds ./revocation/", err)
		}
		body, ok := strings.CutPrefix(string(data), "go test fuzz v1\n[]byte(")
		body, ok2 := strings.CutSuffix(body, ")\n")
		seed, err := strconv.Unquote(body)
		if !ok || !ok2 || err != nil {
			t.Fatalf("%s: not a one-[]byte fuzz seed file", p)
		}
		out = append(out, []byte(seed))
	}
	if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("seed-%02d", n))); err == nil {
		t.Fatalf("%s has more seed files than the generator makes (%d); regenerate with REVOCATION_WRITE_FUZZ_SEEDS=1", dir, n)
	}
	return out
}

// stricterThanStdlib matches the reasons this parser rejects a CRL the
// standard library accepts: it reads the extension values the standard
// library keeps raw (issuing distribution point, freshest CRL, delta CRL
// indicator, entry extensions), refuses unknown critical extensions, and
// is stricter about DER (see doc.go, difference 12).
var stricterThanStdlib = regexp.MustCompile(`^(malformed issuing distribution point extension|malformed freshest CRL extension|` +
	`malformed delta CRL indicator extension|malformed extensions in CRL entry \d+|CRL entry \d+ \(serial [0-9a-f]+\): malformed|` +
	`unsupported critical (CRL|entry) extension|malformed CRL: want tbsCertList, signatureAlgorithm, signatureValue)`)

// TestParseCRLMutations flips bytes of the sample CRLs one at a time, a
// deterministic complement to FuzzParseCRL that reaches the accepting paths
// more often. Whatever the parser accepts, the standard library accepts
// with the same content, and its signature no longer verifies (no mutant
// can pass for the CA's CRL); whatever the standard library accepts and the
// parser rejects is rejected for one of the known, deliberate reasons; and
// both outcomes occur, so the test cannot pass vacuously.
func TestParseCRLMutations(t *testing.T) {
	ca, crls := sampleCRLsOf(t)
	accepted, rejected, stricter := 0, 0, 0
	for _, der := range crls {
		for i := range der {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				m := append([]byte(nil), der...)
				m[i] ^= x
				h, entries, err := parseCRL(m, crlLimits{})
				if err != nil {
					rejected++
					if !errors.Is(err, ErrMalformedCRL) && !errors.Is(err, ErrUnsupportedCRL) {
						t.Fatalf("byte %d ^ %#x: rejected without a kind: %v", i, x, err)
					}
					if _, serr := x509.ParseRevocationList(m); serr == nil {
						stricter++
						if !stricterThanStdlib.MatchString(err.Error()) {
							t.Fatalf("byte %d ^ %#x: the standard library accepts what the parser rejects with %q", i, x, err)
						}
					}
					continue
				}
				accepted++
				checkAgainstStdlib(t, m, h, entries)
				if err := h.checkSignature(ca.cert); err == nil {
					t.Fatalf("byte %d ^ %#x: the mutant still verifies as the CA's CRL", i, x)
				}
			}
		}
	}
	t.Logf("%d mutants accepted (none verifies), %d rejected (%d of them accepted by the standard library)", accepted, rejected, stricter)
	if accepted == 0 || rejected == 0 || stricter == 0 {
		t.Fatalf("accepted %d, rejected %d, stricter %d: every outcome must occur", accepted, rejected, stricter)
	}
}
