package revocation

import (
	"bytes"
	"crypto/x509"
	"errors"
	"io/fs"
	"path/filepath"
	"sync"
	"testing"
)

// swapCRLs are CRLs 1 and 2 of one CA; CRL n revokes n certificates, so a
// reader can tell an index from one CRL beside the entries of another.
func swapCRLs(t *testing.T) (*testCA, [][]byte) {
	ca := newRoot(t, "Shared CA")
	var crls [][]byte
	for n := 1; n <= 2; n++ {
		var entries []x509.RevocationListEntry
		for i := 0; i < n; i++ {
			entries = append(entries, revoked(ca.issueLeaf(t, "x", endpoints{}), 1, testNow))
		}
		crls = append(crls, ca.signCRL(t, crlSpec{number: int64(n), entries: entries}))
	}
	return ca, crls
}

// readNumber loads the cached CRL from dir as a fresh process would and
// returns its CRL number after checking that its index belongs to it. It
// reports with t.Error (it also runs on other goroutines) and returns 0 on
// failure.
func readNumber(t *testing.T, d *diskDir, ca *testCA) int64 {
	t.Helper()
	idx, err := loadCached(d, cacheKey(ca.cert, nil, false), ca.cert, 0)
	if err != nil {
		t.Errorf("a reader failed while a writer replaced the CRL: %v", err)
		return 0
	}
	n := idx.number.Int64()
	if int64(len(idx.entries)) != n {
		t.Errorf("CRL number %d with %d entries: index and CRL mixed", n, len(idx.entries))
		return 0
	}
	return n
}

// TestCacheWriteIsOneSwap races readers with a writer at the points the
// test chooses: the writer is stopped after writing CRL 2 and before
// putting it in place, and a reader is stopped after opening the file and
// before reading it, while the writer completes. Every reader sees CRL 1
// or CRL 2 whole: the CRL and its index are one file, replaced by one
// rename, and no reader retries or sleeps.
func TestCacheWriteIsOneSwap(t *testing.T) {
	ca, crls := swapCRLs(t)
	dir := filepath.Join(t.TempDir(), "crl")
	writer, err := NewCRLCache(Options{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writer.Import(crls[0], []*x509.Certificate{ca.cert}, testNow, "import 1"); err != nil {
		t.Fatal(err)
	}
	key := cacheKey(ca.cert, nil, false)

	// The writer stops before the rename of the CRL file.
	renaming, proceed := make(chan struct{}), make(chan struct{})
	writer.disk.hooks = &dirHooks{beforeRename: func(name string) {
		if name == key+cacheExt {
			close(renaming)
			<-proceed
		}
	}}
	var wg sync.WaitGroup
	var werr error
	wg.Go(func() { _, werr = writer.Import(crls[1], []*x509.Certificate{ca.cert}, testNow, "import 2") })
	<-renaming

	// Written but not in place: a reader sees CRL 1.
	d, err := newDiskDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := readNumber(t, d, ca); n != 1 {
		t.Fatalf("before the rename a reader sees CRL %d", n)
	}

	// A reader that opened CRL 1 and reads it after the rename still reads
	// CRL 1 whole.
	opened, resume := make(chan struct{}), make(chan struct{})
	slow, err := newDiskDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	slow.hooks = &dirHooks{afterOpen: func(name string) {
		if name == key+cacheExt {
			close(opened)
			<-resume
		}
	}}
	var slowN int64
	var rg sync.WaitGroup
	rg.Go(func() { slowN = readNumber(t, slow, ca) })
	<-opened
	close(proceed)
	wg.Wait()
	if werr != nil {
		t.Fatal(werr)
	}
	close(resume)
	rg.Wait()
	if slowN != 1 {
		t.Errorf("a reader that opened before the rename read CRL %d", slowN)
	}
	if n := readNumber(t, d, ca); n != 2 {
		t.Errorf("after the rename a reader sees CRL %d", n)
	}
	// No temporary file is left behind.
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	// An older CRL does not replace it.
	if _, err := writer.Import(crls[0], []*x509.Certificate{ca.cert}, testNow, "import 1 again"); !errors.Is(err, ErrNewerCached) {
		t.Errorf("rollback: %v", err)
	}
}

func TestCRLExport(t *testing.T) {
	ca, crls := swapCRLs(t)
	c, err := NewCRLCache(Options{CacheDir: filepath.Join(t.TempDir(), "crl")})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Import(crls[1], []*x509.Certificate{ca.cert}, testNow, "import 2")
	if err != nil {
		t.Fatal(err)
	}
	der, err := c.CRL(info.Key)
	if err != nil || !bytes.Equal(der, crls[1]) {
		t.Fatalf("CRL(%s): %v", info.Key, err)
	}
	for _, key := range []string{"", "../x", "ab.crlx", info.Key + "x"} {
		if _, err := c.CRL(key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("CRL(%q): %v, want fs.ErrNotExist", key, err)
		}
	}
	mem, err := NewCRLCache(Options{NoDiskCache: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mem.CRL(info.Key); !errors.Is(err, ErrNoDiskCache) {
		t.Errorf("memory only: %v", err)
	}
}
