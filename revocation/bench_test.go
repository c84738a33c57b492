package revocation

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// The 1,000,000-entry CRL of the benchmarks (about 39 MB, over the default
// 32 MiB cap) takes seconds to sign, so it is generated once and kept in
// testdata/bench (ignored by git) with its issuer.

const benchEntries = 1_000_000

type benchCRL struct {
	der    []byte
	issuer *x509.Certificate
	serial []*big.Int // a sample of revoked serials
}

func loadBenchCRL(b *testing.B) *benchCRL {
	b.Helper()
	dir := filepath.Join("testdata", "bench")
	crlPath, certPath := filepath.Join(dir, "1m.crl"), filepath.Join(dir, "issuer.der")
	der, err1 := os.ReadFile(crlPath)
	certDER, err2 := os.ReadFile(certPath)
	if errors.Is(err1, fs.ErrNotExist) || errors.Is(err2, fs.ErrNotExist) {
		der, certDER = generateBenchCRL(b, dir)
		if err := os.WriteFile(certPath, certDER, 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(crlPath, der, 0o644); err != nil {
			b.Fatal(err)
		}
	} else if err1 != nil || err2 != nil {
		b.Fatal(err1, err2)
	}
	issuer, err := x509.ParseCertificate(certDER)
	if err != nil {
		b.Fatal(err)
	}
	bc := &benchCRL{der: der, issuer: issuer}
	// Sample serials straight from the DER (every 1000th entry).
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(rl.RevokedCertificateEntries); i += 1000 {
		bc.serial = append(bc.serial, rl.RevokedCertificateEntries[i].SerialNumber)
	}
	return bc
}

func generateBenchCRL(b *testing.B, dir string) (crl, cert []byte) {
	b.Logf("generating the %d-entry benchmark CRL in %s (once)", benchEntries, dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("*\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	ca := newRoot(b, "Bench CA")
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	entries := make([]x509.RevocationListEntry, benchEntries)
	for i := range entries {
		s := make([]byte, 16) // random 128-bit serials, as CAs issue them
		rand.Read(s)
		entries[i] = x509.RevocationListEntry{
			SerialNumber:   new(big.Int).SetBytes(s),
			RevocationTime: now.Add(-time.Duration(i) * time.Second),
		}
		switch i % 10 {
		case 0:
			entries[i].ReasonCode = 1
		case 1:
			entries[i].ReasonCode = 4
			entries[i].ExtraExtensions = []pkix.Extension{invalidityExt(b, now.Add(-time.Duration(i+60)*time.Second))}
		}
	}
	der := ca.kit().CRL(b, &x509.RevocationList{
		Number: big.NewInt(42), ThisUpdate: now, NextUpdate: now.AddDate(10, 0, 0),
		RevokedCertificateEntries: entries,
	})
	return der, ca.cert.Raw
}

// benchNow is inside the benchmark CRL's validity.
var benchNow = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

func loadAndIndex(tb testing.TB, bc *benchCRL) *crlIndex {
	h, entries, err := parseCRL(bc.der, crlLimits{maxSize: 64 << 20})
	if err != nil {
		tb.Fatal(err)
	}
	idx, err := buildIndex(bc.der, h, entries, bc.issuer, benchNow)
	if err != nil {
		tb.Fatal(err)
	}
	return idx
}

// benchCache stores the CRL in a disk cache under a temp dir and returns its
// directory and key.
func benchCache(b *testing.B, bc *benchCRL) (string, string) {
	dir := b.TempDir()
	c, err := NewCRLCache(Options{CacheDir: dir, MaxCRLSize: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	info, err := c.Import(bc.der, []*x509.Certificate{bc.issuer}, benchNow, "import bench")
	if err != nil {
		b.Fatal(err)
	}
	if info.Entries != benchEntries {
		b.Fatalf("%d entries", info.Entries)
	}
	return dir, info.Key
}

func reload(tb testing.TB, dir, key string, bc *benchCRL) *crlIndex {
	d, err := newDiskDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	idx, err := loadCached(d, key, bc.issuer, 64<<20)
	if err != nil {
		tb.Fatal(err)
	}
	return idx
}

func BenchmarkCRL1M_Parse(b *testing.B) {
	bc := loadBenchCRL(b)
	for b.Loop() {
		if _, err := x509.ParseRevocationList(bc.der); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCRL1M_LoadAndIndex(b *testing.B) {
	bc := loadBenchCRL(b)
	for b.Loop() {
		loadAndIndex(b, bc)
	}
}

func BenchmarkCRL1M_Lookup(b *testing.B) {
	bc := loadBenchCRL(b)
	idx := loadAndIndex(b, bc)
	certs := make([]*x509.Certificate, 0, 2*len(bc.serial))
	for i, s := range bc.serial {
		certs = append(certs, &x509.Certificate{SerialNumber: s})                                           // revoked
		certs = append(certs, &x509.Certificate{SerialNumber: new(big.Int).Add(s, big.NewInt(int64(i+1)))}) // not
	}
	i := 0
	for b.Loop() {
		if _, err := evaluate(certs[i%len(certs)], idx, nil, time.Time{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkCRL1M_Reload(b *testing.B) {
	bc := loadBenchCRL(b)
	dir, key := benchCache(b, bc)
	for b.Loop() {
		reload(b, dir, key, bc)
	}
}

// BenchmarkCRL1M_Ratios measures parse, load-and-index and reload in one
// run (interleaved, median of five) and reports the ratios.
func BenchmarkCRL1M_Ratios(b *testing.B) {
	bc := loadBenchCRL(b)
	dir, key := benchCache(b, bc)
	var parse, load, rel []time.Duration
	for b.Loop() {
		for range 5 {
			parse = append(parse, timeIt(func() { x509.ParseRevocationList(bc.der) }))
			load = append(load, timeIt(func() { loadAndIndex(b, bc) }))
			rel = append(rel, timeIt(func() { reload(b, dir, key, bc) }))
		}
	}
	reportRatios(b, median(parse), median(load), median(rel))
	stdMem := heapOf(func() any { rl, _ := x509.ParseRevocationList(bc.der); return rl })
	idxMem := heapOf(func() any { return loadAndIndex(b, bc) })
	b.ReportMetric(float64(stdMem)/1e6, "stdlib-heap-MB")
	b.ReportMetric(float64(idxMem)/1e6, "index-heap-MB")
	if st, err := os.Stat(filepath.Join(dir, key+cacheExt)); err == nil {
		b.ReportMetric(float64(st.Size()-int64(len(bc.der)))/1e6, "index-file-MB")
	}
	b.ReportMetric(float64(len(bc.der))/1e6, "crl-MB")
}

// reportRatios reports load/parse and reload/parse; the goals are at most
// 1.5 and 0.25.
func reportRatios(b *testing.B, parse, load, reload time.Duration) {
	b.ReportMetric(float64(parse.Milliseconds()), "parse-ms")
	b.ReportMetric(float64(load.Milliseconds()), "load-ms")
	b.ReportMetric(float64(reload.Milliseconds()), "reload-ms")
	b.ReportMetric(float64(load)/float64(parse), "load/parse")
	b.ReportMetric(float64(reload)/float64(parse), "reload/parse")
	if float64(load) > 1.5*float64(parse) || float64(reload) > 0.25*float64(parse) {
		b.Errorf("ratio goal missed: load/parse %.2f (goal 1.5), reload/parse %.2f (goal 0.25)",
			float64(load)/float64(parse), float64(reload)/float64(parse))
	}
}

func timeIt(f func()) time.Duration {
	runtime.GC()
	start := time.Now()
	f()
	return time.Since(start)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// heapOf returns the heap that the value built by f keeps alive.
func heapOf(f func() any) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := f()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	if after.HeapAlloc < before.HeapAlloc {
		return 0
	}
	return after.HeapAlloc - before.HeapAlloc
}
