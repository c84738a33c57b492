package truststore

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
)

// scanner checks one store. In first mode (all false) it stops at the first
// problem, in the order notation-go meets them; in all mode (Lint) it keeps
// going and reports every problem.
type scanner struct {
	src  source
	ref  Ref
	all  bool
	errs []*StoreError
}

// add records a problem and reports whether scanning must stop.
func (s *scanner) add(e *StoreError) bool {
	e.Ref = s.ref
	s.errs = append(s.errs, e)
	return !s.all
}

// scanStore reads and checks the store ref from src with notation-go
// v1.3.2's rules. It returns the certificates, in notation's order, only when
// there is no problem.
func scanStore(src source, ref Ref, all bool) ([]*x509.Certificate, []*StoreError) {
	s := &scanner{src: src, ref: ref, all: all}
	certs := s.scan()
	if len(s.errs) > 0 {
		return nil, s.errs
	}
	return certs, nil
}

func (s *scanner) scan() []*x509.Certificate {
	if err := s.ref.Valid(); err != nil {
		s.add(&StoreError{Msg: invalidRefMsg(s.ref), Err: err})
		return nil
	}
	dir := storeDir(s.ref)
	dirPath := s.src.display(dir)
	info, err := s.src.lstat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			s.add(&StoreError{Path: dirPath, Err: fmt.Errorf("%w: %w", ErrStoreNotFound, err),
				Msg: fmt.Sprintf("folder %s does not exist; create it and put the trusted root certificates (PEM or DER files) in it, or remove %s from the trust policy", dirPath, s.ref)})
			return nil
		}
		s.add(&StoreError{Path: dirPath, Err: fmt.Errorf("%w: %w", ErrAccess, err),
			Msg: fmt.Sprintf("cannot access folder %s: %v", dirPath, err)})
		return nil
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		s.add(&StoreError{Path: dirPath, Err: ErrNotRegular,
			Msg: fmt.Sprintf("folder %s is a symlink; notation does not follow a symlinked store, replace the link with a real folder holding the certificates", dirPath)})
		return nil
	}
	if !info.IsDir() {
		s.add(&StoreError{Path: dirPath, Err: ErrNotRegular,
			Msg: fmt.Sprintf("%s is not a folder; a store is a folder of certificate files, e.g. %s/root.pem", dirPath, dirPath)})
		return nil
	}
	entries, err := s.src.readDir(dir)
	if err != nil {
		s.add(&StoreError{Path: dirPath, Err: fmt.Errorf("%w: %w", ErrAccess, err),
			Msg: fmt.Sprintf("cannot read folder %s: %v", dirPath, err)})
		return nil
	}
	var certs []*x509.Certificate
	failed := false
	for _, entry := range entries {
		fileCerts, ok := s.file(path.Join(dir, entry.Name()), entry)
		if !ok {
			if !s.all {
				return nil
			}
			failed = true
			continue
		}
		certs = append(certs, fileCerts...)
		if len(certs) > MaxCertificates && !s.all {
			break
		}
	}
	if len(certs) > MaxCertificates {
		s.add(&StoreError{Path: dirPath, Err: ErrTooLarge,
			Msg: fmt.Sprintf("folder %s holds more than %d certificates, this tool's limit for one store (a deliberate limit; notation has none); split the store or remove certificates you do not need", dirPath, MaxCertificates)})
		return nil
	}
	if len(certs) == 0 && !failed {
		s.add(&StoreError{Path: dirPath, Err: fmt.Errorf("%w: %w", ErrNoCertificates, fs.ErrNotExist),
			Msg: fmt.Sprintf("folder %s holds no certificate; put the trusted root certificates (PEM or DER files) in it", dirPath)})
		return nil
	}
	return certs
}

// file checks one entry of the store folder. ok is false when there is a
// problem (already recorded).
func (s *scanner) file(name string, entry fs.DirEntry) (certs []*x509.Certificate, ok bool) {
	p := s.src.display(name)
	fileErr := func(err error, msg string) *StoreError {
		return &StoreError{Path: p, Err: err, Msg: msg, file: true}
	}
	mode := entry.Type()
	switch {
	case mode.IsDir():
		s.add(fileErr(ErrNotRegular, "is a folder; notation rejects the whole store when it holds a sub-folder, move the folder out of the store"))
		return nil, false
	case mode&fs.ModeSymlink != 0:
		s.add(fileErr(ErrNotRegular, "is a symlink; notation rejects the whole store when it holds a symlink, copy the certificate file into the store instead"))
		return nil, false
	case !mode.IsRegular():
		// notation-go would open and read it (and block forever on a named
		// pipe); this package refuses it.
		s.add(fileErr(ErrNotRegular, fmt.Sprintf("is not a regular file (type %s); a store holds only certificate files, remove it", mode)))
		return nil, false
	}
	data, err := s.src.readFile(name)
	if err != nil {
		if errors.Is(err, ErrNotRegular) {
			s.add(fileErr(err, fmt.Sprintf("is not a regular file (%v); a store holds only certificate files, remove it", err)))
			return nil, false
		}
		s.add(fileErr(fmt.Errorf("%w: %w", ErrAccess, err), fmt.Sprintf("cannot be read: %v", err)))
		return nil, false
	}
	if len(data) > MaxFileSize {
		s.add(fileErr(ErrTooLarge, fmt.Sprintf("is larger than %d bytes (4 MiB), this tool's limit for a trust store file (a deliberate limit; notation has none); a store file holds a few certificates, remove what is not a certificate", MaxFileSize)))
		return nil, false
	}
	certs, err = parseCertificates(data)
	if err != nil {
		s.add(fileErr(fmt.Errorf("%w: %w", ErrMalformedCertificate, err),
			fmt.Sprintf("cannot be parsed as PEM or DER certificates (%v); notation rejects the whole store when any file in it is not a certificate file, fix or remove it", err)))
		return nil, false
	}
	if len(certs) == 0 {
		s.add(fileErr(ErrNoCertificates, "holds no certificate (it is empty); notation rejects the whole store when any file in it holds none, remove it (placeholder files such as .gitkeep too)"))
		return nil, false
	}
	if !s.certs(certs, func(e *StoreError) *StoreError { e.Path, e.file = p, true; return e }) {
		return nil, false
	}
	return certs, true
}

// certs applies the per-type certificate rules to the certificates of one
// file (or of one NewSet store), in notation-go's order: first every
// certificate must be a CA or self-signed, then for tsa every certificate
// must be a root. It reports whether all passed. decorate fills in where the
// certificates came from.
func (s *scanner) certs(certs []*x509.Certificate, decorate func(*StoreError) *StoreError) bool {
	ok := true
	passed := make([]bool, len(certs))
	for i, cert := range certs {
		if caOrSelfSigned(cert) {
			passed[i] = true
			continue
		}
		ok = false
		if s.add(decorate(&StoreError{Subject: cert.Subject.String(), Err: ErrNotCA, Msg: notCAMsg(s.ref.Type)})) {
			return false
		}
	}
	if s.ref.Type != TypeTSA {
		return ok
	}
	for i, cert := range certs {
		if !passed[i] {
			continue
		}
		kind, err := rootCA(cert)
		switch kind {
		case problemNone:
			continue
		case problemNotRoot:
			ok = false
			why := err.Error()
			if !bytes.Equal(cert.RawSubject, cert.RawIssuer) {
				why = fmt.Sprintf("it is issued by %s: %v", strconv.Quote(cert.Issuer.String()), err)
			}
			if s.add(decorate(&StoreError{Subject: cert.Subject.String(), Err: fmt.Errorf("%w: %w", ErrNotRoot, err),
				Msg: fmt.Sprintf("is not a root CA certificate (%s); a tsa store holds only the self-signed root CA certificate of each trusted timestamp authority, put that root here instead", why)})) {
				return false
			}
		case problemNotSelfIssued:
			ok = false
			if s.add(decorate(&StoreError{Subject: cert.Subject.String(), Err: ErrNotRoot,
				Msg: fmt.Sprintf("is not a root CA certificate: its issuer %s differs from its subject; a tsa store holds only the self-signed root CA certificate of each trusted timestamp authority, put that root here instead", strconv.Quote(cert.Issuer.String()))})) {
				return false
			}
		}
	}
	return ok
}

func notCAMsg(t Type) string {
	if t == TypeTSA {
		return "is not a CA and not self-signed; a tsa store holds only the self-signed root CA certificate of each trusted timestamp authority, put that root here instead"
	}
	return "is not a CA and not self-signed; trust stores hold root or intermediate CA certificates, put the issuing root here instead"
}

func invalidRefMsg(r Ref) string {
	if !r.Type.Valid() {
		return fmt.Sprintf("unsupported store type %q; the type must be one of ca, signingAuthority or tsa (case-sensitive)", string(r.Type))
	}
	return fmt.Sprintf("invalid store name %q; a name must match [a-zA-Z0-9_.-]+", r.Name)
}
