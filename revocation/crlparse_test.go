package revocation

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// sampleCRLs returns well-formed CRLs that exercise the parser: empty,
// duplicates, odd serials, both time forms, entry extensions, IDP, delta.
func sampleCRLs(t testing.TB) [][]byte {
	t.Helper()
	_, crls := sampleCRLsOf(t)
	return crls
}

// sampleCRLsOf is sampleCRLs with the CA that signed them.
func sampleCRLsOf(t testing.TB) (*testCA, [][]byte) {
	t.Helper()
	ca := newRoot(t, "Sample CA")
	at := time.Date(2025, 2, 28, 23, 59, 59, 0, time.UTC)
	ent := func(serial *big.Int, reason int, when time.Time, exts ...pkix.Extension) x509.RevocationListEntry {
		return x509.RevocationListEntry{SerialNumber: serial, RevocationTime: when, ReasonCode: reason, ExtraExtensions: exts}
	}
	long, _ := new(big.Int).SetString("123456789012345678901234567890123456789012345678901234567890123456789", 10)
	neg := big.NewInt(-129)
	return ca, [][]byte{
		ca.signCRL(t, crlSpec{}),
		ca.signCRL(t, crlSpec{number: 3, entries: []x509.RevocationListEntry{
			ent(big.NewInt(5), 1, at),
			ent(big.NewInt(0), 0, at),
			ent(big.NewInt(128), 6, at),
			ent(big.NewInt(5), 8, at.Add(time.Hour)),
			ent(new(big.Int).Lsh(big.NewInt(1), 159), 4, time.Date(2051, 1, 1, 0, 0, 0, 0, time.UTC)), // GeneralizedTime
			ent(long, 2, at),
			ent(neg, 9, at),
			ent(big.NewInt(77), 3, at, invalidityExt(t, at.Add(-time.Hour))),
			ent(big.NewInt(78), 0, at, pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}),
			ent(big.NewInt(79), 0, at, pkix.Extension{Id: oidInvalidityDate(), Value: []byte{1, 1, 0}}), // malformed
		}}),
		ca.signCRL(t, crlSpec{number: 4, exts: []pkix.Extension{
			idpExt([]string{"http://a/x.crl"}, true, false, []byte{7, 0x80 >> 1}),
			dpExt(t, oidFreshestCRL(), false, "http://a/delta.crl"),
		}}),
		ca.signCRL(t, crlSpec{number: 9, exts: []pkix.Extension{deltaIndicatorExt(4)}}),
		ca.signCRLNoNext(t),
	}
}

// checkAgainstStdlib asserts that an accepted CRL parses with the standard
// library to the same content.
func checkAgainstStdlib(t testing.TB, der []byte, h *crlHeader, entries []crlEntry) {
	t.Helper()
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("accepted a CRL the standard library rejects: %v", err)
	}
	if !bytes.Equal(rl.RawIssuer, h.skel.RawIssuer) || !rl.ThisUpdate.Equal(h.skel.ThisUpdate) ||
		!rl.NextUpdate.Equal(h.skel.NextUpdate) || rl.SignatureAlgorithm != h.skel.SignatureAlgorithm ||
		!bytes.Equal(rl.RawTBSRevocationList, h.tbs) || !bytes.Equal(rl.Signature, h.skel.Signature) ||
		(rl.Number == nil) != (h.skel.Number == nil) || rl.Number != nil && rl.Number.Cmp(h.skel.Number) != 0 {
		t.Fatal("header differs from the standard library's")
	}
	if len(rl.RevokedCertificateEntries) != len(entries) {
		t.Fatalf("%d entries, standard library %d", len(entries), len(rl.RevokedCertificateEntries))
	}
	for i, re := range rl.RevokedCertificateEntries {
		k0, k1, k2 := certSerialKey(re.SerialNumber)
		var got *crlEntry
		for j := range entries {
			if entries[j].ord == uint32(i) {
				got = &entries[j]
			}
		}
		if got == nil || got.k0 != k0 || got.k1 != k1 || got.k2 != k2 || got.revokedAt != re.RevocationTime.Unix() {
			t.Fatalf("entry %d differs: %+v vs serial %v time %v", i, got, re.SerialNumber, re.RevocationTime)
		}
		hasReason := false
		for _, e := range re.Extensions {
			if e.Id.Equal(oidReasonCode()) {
				hasReason = true
			}
		}
		if hasReason != (got.flags&flagReason != 0) || hasReason && re.ReasonCode >= 0 && re.ReasonCode < reasonOther && int(got.reason) != re.ReasonCode {
			t.Fatalf("entry %d reason %d/%v, standard library %d", i, got.reason, got.flags, re.ReasonCode)
		}
	}
}

func TestParseCRLMatchesStdlib(t *testing.T) {
	for i, der := range sampleCRLs(t) {
		h, entries, err := parseCRL(der, crlLimits{})
		if err != nil {
			t.Fatalf("CRL %d: %v", i, err)
		}
		checkAgainstStdlib(t, der, h, entries)
	}
}

func TestEntryOrderAndDuplicates(t *testing.T) {
	h, entries, err := parseCRL(sampleCRLs(t)[1], crlLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if h.skel.Number.Int64() != 3 {
		t.Fatal("number")
	}
	idx := &crlIndex{}
	idx.setEntries(entries)
	k0, k1, k2 := certSerialKey(big.NewInt(5))
	got := idx.lookup(k0, k1, k2)
	if len(got) != 2 || got[0].reason != 1 || got[1].reason != 8 {
		t.Fatalf("serial 5: %+v", got)
	}
	for _, n := range []*big.Int{big.NewInt(0), big.NewInt(128), big.NewInt(-129), new(big.Int).Lsh(big.NewInt(1), 159)} {
		if k0, k1, k2 := certSerialKey(n); len(idx.lookup(k0, k1, k2)) != 1 {
			t.Errorf("serial %v not found", n)
		}
	}
	for _, n := range []*big.Int{big.NewInt(1), big.NewInt(-1), big.NewInt(129), big.NewInt(255)} {
		if k0, k1, k2 := certSerialKey(n); len(idx.lookup(k0, k1, k2)) != 0 {
			t.Errorf("serial %v found", n)
		}
	}
	k0, k1, k2 = certSerialKey(big.NewInt(79))
	if e := idx.lookup(k0, k1, k2); len(e) != 1 || e[0].flags&flagBadInvalidity == 0 {
		t.Errorf("malformed invalidityDate not flagged: %+v", e)
	}
}

func TestLookupLarge(t *testing.T) {
	// Many entries sharing the first key word (long serials with a common
	// prefix) and many blocks.
	var entries []crlEntry
	prefix := bytes.Repeat([]byte{0x42}, 12)
	var serials [][]byte
	for i := 0; i < 5000; i++ {
		s := append(append([]byte{}, prefix...), byte(i>>8), byte(i), byte(mrand.IntN(256)))
		serials = append(serials, s)
		e := crlEntry{ord: uint32(i)}
		e.k0, e.k1, e.k2 = serialKey(s)
		entries = append(entries, e)
	}
	mrand.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
	for i := range entries {
		entries[i].ord = uint32(i)
	}
	idx := &crlIndex{}
	idx.setEntries(sortEntries(entries))
	for _, s := range serials {
		k0, k1, k2 := serialKey(s)
		if got := idx.lookup(k0, k1, k2); len(got) != 1 {
			t.Fatalf("serial %x: %d matches", s, len(got))
		}
	}
	k0, k1, k2 := serialKey(append(prefix, 0xff, 0xff, 0xff))
	if len(idx.lookup(k0, k1, k2)) != 0 {
		t.Fatal("missing serial found")
	}
}

func TestRadixSortMatchesSort(t *testing.T) {
	for _, n := range []int{1, 2, 17, 1000, 20000} {
		es := make([]crlEntry, n)
		for i := range es {
			es[i] = crlEntry{k0: mrand.Uint64() & 0x00ff_0000_0000_ffff, k1: uint64(mrand.IntN(3)), ord: uint32(i)}
		}
		got := sortEntries(append([]crlEntry(nil), es...))
		for i := 1; i < len(got); i++ {
			if compareEntries(got[i-1], got[i]) > 0 {
				t.Fatalf("n=%d: not sorted at %d", n, i)
			}
		}
	}
}

func TestCertSerialKeyMatchesDER(t *testing.T) {
	vals := []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(127), big.NewInt(128), big.NewInt(255), big.NewInt(256), big.NewInt(-1), big.NewInt(-128), big.NewInt(-129)}
	for i := 0; i < 2000; i++ {
		b := make([]byte, mrand.IntN(40))
		rand.Read(b)
		n := new(big.Int).SetBytes(b)
		if i%3 == 0 {
			n.Neg(n)
		}
		vals = append(vals, n)
	}
	for _, n := range vals {
		der, _ := asn1.Marshal(n)
		s := cryptobyte.String(der)
		var content cryptobyte.String
		s.ReadASN1(&content, cbasn1.INTEGER)
		a0, a1, a2 := serialKey(content)
		b0, b1, b2 := certSerialKey(n)
		if a0 != b0 || a1 != b1 || a2 != b2 {
			t.Fatalf("serial %v: key mismatch", n)
		}
	}
}

// TestFastTimeMatchesCryptobyte: readTime (the fast path, then cryptobyte)
// accepts exactly what cryptobyte accepts, with the same value; the fast
// path never accepts what cryptobyte rejects, and for the two canonical DER
// forms it handles it accepts everything cryptobyte accepts (so the slow
// path is only taken for other forms).
func TestFastTimeMatchesCryptobyte(t *testing.T) {
	type tcase struct {
		tag cbasn1.Tag
		s   string
	}
	var cases []tcase
	for i := 0; i < 20000; i++ {
		c := twoDigits(mrand.IntN(100)) + twoDigits(mrand.IntN(14)) + twoDigits(mrand.IntN(33)) +
			twoDigits(mrand.IntN(26)) + twoDigits(mrand.IntN(62)) + twoDigits(mrand.IntN(62)) + "Z"
		cases = append(cases, tcase{cbasn1.UTCTime, c}, tcase{cbasn1.GeneralizedTime, twoDigits(mrand.IntN(100)) + c})
	}
	for _, c := range []string{"000229000000Z", "500101000000Z", "491231235959Z", "690101000000Z", "680229120000Z", "990229000000Z", "991231235959Z"} {
		cases = append(cases, tcase{cbasn1.UTCTime, c})
	}
	for _, c := range []string{"19000229000000Z", "20000229000000Z", "21000229000000Z", "00000101000000Z", "99991231235959Z", "20240229235959Z"} {
		cases = append(cases, tcase{cbasn1.GeneralizedTime, c})
	}
	// Forms the fast path leaves to cryptobyte: fractions, offsets, missing
	// seconds, a lower-case z, signs and spaces in place of digits.
	for _, c := range []string{"20250101000000.5Z", "20250101000000.123Z", "20250101000000+0100", "202501010000Z", "20250101000000z", "2025010100000+Z", "2025-1-1000000Z", "20250101000000"} {
		cases = append(cases, tcase{cbasn1.GeneralizedTime, c})
	}
	for _, c := range []string{"250101000000+0100", "2501010000Z", "250101000000z", "25010100000 Z", "250101000000"} {
		cases = append(cases, tcase{cbasn1.UTCTime, c})
	}
	fastOK := 0
	for _, c := range cases {
		if compareTime(t, c.tag, c.s) {
			fastOK++
		}
	}
	if fastOK < len(cases)/10 {
		t.Fatalf("the fast path accepted only %d of %d inputs", fastOK, len(cases))
	}
}

func twoDigits(n int) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }

// compareTime checks one time element and reports whether the fast path
// accepted it.
func compareTime(t *testing.T, tag cbasn1.Tag, s string) bool {
	t.Helper()
	var b cryptobyte.Builder
	b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
	der := b.BytesOrPanic()
	slow := cryptobyte.String(der)
	var tm time.Time
	var sok bool
	if tag == cbasn1.UTCTime {
		sok = slow.ReadASN1UTCTime(&tm)
	} else {
		sok = slow.ReadASN1GeneralizedTime(&tm)
	}
	fast := cryptobyte.String(der)
	fu, fok := fastUTCTime(&fast)
	both := cryptobyte.String(der)
	ru, rok := readTime(&both)
	switch {
	case fok && (!sok || fu != tm.Unix() || len(fast) != 0):
		t.Fatalf("%q: the fast path accepts %d, cryptobyte %v %v", s, fu, sok, tm)
	case !fok && len(fast) != len(der):
		t.Fatalf("%q: the fast path rejected but consumed input", s)
	case rok != sok || rok && (ru != tm.Unix() || len(both) != 0):
		t.Fatalf("%q: readTime %v %d, cryptobyte %v %v", s, rok, ru, sok, tm)
	case sok && !fok && len(s) == len("YYMMDDHHMMSSZ")+2*btoi(tag == cbasn1.GeneralizedTime) && s[len(s)-1] == 'Z':
		t.Fatalf("%q: cryptobyte accepts a canonical form that the fast path rejects", s)
	}
	return fok
}
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestParseIDP(t *testing.T) {
	idp, err := parseIDP(idpExt([]string{"http://a/1.crl", "http://a/2.crl"}, false, true, []byte{7, 0x40 | 0x02}).Value)
	if err != nil {
		t.Fatal(err)
	}
	if len(idp.uris) != 2 || !idp.onlyCA || idp.onlyUser || idp.reasons != 1<<1|1<<6 {
		t.Errorf("%+v", idp)
	}
	if !idp.named || idp.checkScope("http://a/2.crl", nil) != nil || !errors.Is(idp.checkScope("http://b/", nil), ErrIDPMismatch) {
		t.Error("checkScope")
	}
	leaf := &x509.Certificate{}
	if idp.applies(leaf) == nil || idp.applies(&x509.Certificate{IsCA: true, BasicConstraintsValid: true}) != nil {
		t.Error("applies")
	}
	for _, bad := range [][]byte{{0x31, 0}, {0x30, 3, 0x81, 1, 7}, {0x30, 6, 0x81, 1, 0xff, 0x82, 1, 0xff}} {
		if _, err := parseIDP(bad); err == nil {
			t.Errorf("accepted %x", bad)
		}
	}
}

func TestIndexFileRoundTrip(t *testing.T) {
	der := sampleCRLs(t)[1]
	h, entries, err := parseCRL(der, crlLimits{})
	if err != nil {
		t.Fatal(err)
	}
	issuer := newRoot(t, "Sample CA") // any issuer: encoding does not verify
	idx := indexFromHeader(h, issuer.cert)
	idx.setEntries(entries)
	idx.source = "import test"
	idx.der, idx.derLen = sha256.Sum256(der), int64(len(der))
	enc, err := encodeIndex(idx, der)
	if err != nil {
		t.Fatal(err)
	}
	m, got, gotDER, err := decodeIndexEntries(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotDER, der) {
		t.Error("the CRL does not survive the round trip")
	}
	if m.Entries != len(entries) || m.Source != "import test" || m.Number != "3" {
		t.Errorf("meta %+v", m)
	}
	for i := range got {
		want := entries[i]
		want.ord = uint32(i) // a decoded index numbers entries by position
		if got[i] != want {
			t.Fatalf("entry %d: %+v != %+v", i, got[i], entries[i])
		}
	}
	for i := 0; i < len(enc); i += 7 {
		bad := append([]byte(nil), enc...)
		bad[i] ^= 0x10
		if _, _, _, err := decodeIndexEntries(bad); err == nil {
			t.Fatalf("flip at %d not detected", i)
		}
	}
	if _, _, _, err := decodeIndexEntries(enc[:len(enc)-1]); err == nil {
		t.Fatal("truncation not detected")
	}
}

func TestSigAlgFromAI(t *testing.T) {
	for _, der := range sampleCRLs(t) {
		rl, _ := x509.ParseRevocationList(der)
		h, err := parseCRLHeader(der)
		if err != nil {
			t.Fatal(err)
		}
		if h.skel.SignatureAlgorithm != rl.SignatureAlgorithm || rl.SignatureAlgorithm != x509.ECDSAWithSHA256 {
			t.Fatal("signature algorithm")
		}
	}
	ai := []byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03}
	if got := sigAlgFromAI(ai); got != x509.ECDSAWithSHA384 {
		t.Errorf("got %v", got)
	}
	if got := sigAlgFromAI([]byte{1, 2, 3}); got != x509.UnknownSignatureAlgorithm {
		t.Errorf("got %v", got)
	}
}

func TestParseRejects(t *testing.T) {
	good := sampleCRLs(t)[0]
	for name, der := range map[string][]byte{
		"empty":         nil,
		"trailing data": append(append([]byte(nil), good...), 0),
		"truncated":     good[:len(good)-1],
	} {
		if _, _, err := parseCRL(der, crlLimits{}); !errors.Is(err, ErrMalformedCRL) {
			t.Errorf("%s: %v, want ErrMalformedCRL", name, err)
		}
	}
	if _, _, err := parseCRL(good, crlLimits{maxSize: 10}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "larger than the 10 bytes limit") {
		t.Errorf("size cap: %v", err)
	}
}
