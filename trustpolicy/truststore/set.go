package truststore

import (
	"cmp"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io/fs"
	"slices"
)

// Set holds the loaded contents, or the load error, of each store a policy
// references. It is immutable once built and safe for concurrent use.
type Set struct {
	stores map[Ref]setEntry
	digest [32]byte
}

type setEntry struct {
	certs []*x509.Certificate
	err   *StoreError
}

// Load reads each store in refs from root, the folder that holds x509/
// (notation's {NOTATION_CONFIG}/truststore), with notation-go v1.3.2's rules.
// It never fails as a whole: each store's first problem is kept and returned
// by Certificates, because notation reports a store's error only when a
// verification uses that store. A ref listed more than once is loaded once.
func Load(root string, refs []Ref) *Set {
	return load(osSource{root: root}, refs)
}

// LoadFS is Load over an fs.FS whose root holds x509/. Symlinks are detected
// only if fsys implements fs.ReadLinkFS (os.DirFS, testing/fstest.MapFS);
// otherwise a symlink is seen as what it points to. Paths in errors are
// relative to the FS root.
func LoadFS(fsys fs.FS, refs []Ref) *Set {
	return load(fsSource{fsys: fsys}, refs)
}

func load(src source, refs []Ref) *Set {
	s := &Set{stores: make(map[Ref]setEntry, len(refs))}
	for _, ref := range refs {
		if _, done := s.stores[ref]; done {
			continue
		}
		certs, errs := scanStore(src, ref, false)
		s.stores[ref] = newEntry(certs, errs)
	}
	s.digest = s.computeDigest()
	return s
}

func newEntry(certs []*x509.Certificate, errs []*StoreError) setEntry {
	if len(errs) > 0 {
		return setEntry{err: errs[0]}
	}
	return setEntry{certs: certs}
}

// NewSet builds a Set from certificates held in memory (tests, inline
// configuration). It applies the same rules as Load to each store: a valid
// ref, at least one certificate, at most MaxCertificates, each a CA or
// self-signed, and for tsa each a root CA. A store that breaks a rule keeps
// its error, returned by Certificates, as with Load. The slices are copied;
// the certificates must not be modified afterwards.
func NewSet(stores map[Ref][]*x509.Certificate) *Set {
	s := &Set{stores: make(map[Ref]setEntry, len(stores))}
	for ref, certs := range stores {
		s.stores[ref] = newEntry(checkMemory(ref, certs))
	}
	s.digest = s.computeDigest()
	return s
}

// checkMemory applies the store rules to in-memory certificates.
func checkMemory(ref Ref, certs []*x509.Certificate) ([]*x509.Certificate, []*StoreError) {
	sc := &scanner{ref: ref}
	if err := ref.Valid(); err != nil {
		sc.add(&StoreError{Msg: invalidRefMsg(ref), Err: err})
		return nil, sc.errs
	}
	switch {
	case len(certs) == 0:
		sc.add(&StoreError{Err: ErrNoCertificates, Msg: "holds no certificate; give the store at least one trusted root certificate"})
		return nil, sc.errs
	case len(certs) > MaxCertificates:
		sc.add(&StoreError{Err: ErrTooLarge, Msg: fmt.Sprintf("holds more than %d certificates, this tool's limit for one store (a deliberate limit; notation has none)", MaxCertificates)})
		return nil, sc.errs
	}
	for i, c := range certs {
		if c == nil || len(c.Raw) == 0 {
			sc.add(&StoreError{Err: ErrMalformedCertificate, Msg: fmt.Sprintf("certificate %d is nil or has no DER encoding (Raw is empty); give parsed certificates", i+1)})
			return nil, sc.errs
		}
	}
	if !sc.certs(certs, func(e *StoreError) *StoreError { return e }) {
		return nil, sc.errs
	}
	return slices.Clone(certs), nil
}

// Certificates returns the certificates of the store ref, in notation's
// order (files sorted by name, certificates in file order), or the store's
// error, a *StoreError. A ref the Set does not hold gives an error wrapping
// ErrStoreNotFound. The returned slice is a copy; the certificates are
// shared and must not be modified.
func (s *Set) Certificates(ref Ref) ([]*x509.Certificate, error) {
	var e setEntry
	var ok bool
	if s != nil {
		e, ok = s.stores[ref]
	}
	if !ok {
		return nil, &StoreError{Ref: ref, Err: ErrStoreNotFound,
			Msg: "was not loaded; only the stores the trust policy references are loaded"}
	}
	if e.err != nil {
		return nil, e.err
	}
	return slices.Clone(e.certs), nil
}

// Refs returns the refs the Set holds, sorted by type then name.
func (s *Set) Refs() []Ref {
	if s == nil {
		return nil
	}
	refs := make([]Ref, 0, len(s.stores))
	for r := range s.stores {
		refs = append(refs, r)
	}
	slices.SortFunc(refs, compareRefs)
	return refs
}

func compareRefs(a, b Ref) int {
	return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Name, b.Name))
}

// Digest is a SHA-256 over the sorted refs and, for each, the exact DER of
// every certificate in order, or the text of its error. Two Sets with the
// same Digest answer every Certificates call the same way, so it can key
// memoized results.
func (s *Set) Digest() [32]byte {
	if s == nil || s.stores == nil { // nil or zero Set: the empty Set's digest
		return (&Set{}).computeDigest()
	}
	return s.digest
}

func (s *Set) computeDigest() [32]byte {
	h := sha256.New()
	var n [8]byte
	write := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	write([]byte("notation-pkcs11/trustpolicy/truststore.Set v1"))
	for _, ref := range s.Refs() {
		e := s.stores[ref]
		write([]byte(ref.Type))
		write([]byte(ref.Name))
		if e.err != nil {
			write([]byte("error"))
			write([]byte(e.err.Error()))
			continue
		}
		write([]byte("certificates"))
		binary.BigEndian.PutUint64(n[:], uint64(len(e.certs)))
		h.Write(n[:])
		for _, c := range e.certs {
			write(c.Raw)
		}
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}
