package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// issuersFor returns the anchored CRL issuers (truststore.CRLIssuers) of
// the trust store folder, the --issuer files and extra (the certificates of
// the inputs), and warns about what it left out.
func issuersFor(f crlFlags, extra []*x509.Certificate, e env) ([]*x509.Certificate, error) {
	paths, err := resolvePaths(f.policy, f.truststore, e)
	if err != nil {
		return nil, err
	}
	for _, p := range f.issuers {
		certs, err := readCertFile(p)
		if err != nil {
			return nil, fmt.Errorf("--issuer: %w", err)
		}
		extra = append(extra, certs...)
	}
	issuers, skipped, err := truststore.CRLIssuers(paths.TrustStore, extra, e.now())
	for _, w := range skipped {
		fmt.Fprintf(e.stderr, "trustpolicy: warning: %s\n", textsafe.Escape(w.Error()))
	}
	if err != nil {
		return nil, badInput("%w", err)
	}
	return issuers, nil
}

func crlImport(cache *revocation.CRLCache, dir string, files []string, f crlFlags, e env) int {
	type input struct {
		name string
		ders [][]byte
	}
	var inputs []input
	for _, p := range files {
		ders, err := readCRLFile(p, revocation.DefaultMaxCRLSize)
		if err != nil {
			return errorExit(e, err)
		}
		inputs = append(inputs, input{p, ders})
	}
	issuers, err := issuersFor(f, nil, e)
	if err != nil {
		return errorExit(e, err)
	}
	rep := crlReport{CacheDir: dir, CRLs: []crlRow{}}
	now := e.now()
	for _, in := range inputs {
		abs, _ := filepath.Abs(in.name)
		for i, der := range in.ders {
			name := in.name
			if len(in.ders) > 1 {
				name = fmt.Sprintf("%s (CRL %d)", in.name, i+1)
			}
			info, err := cache.Import(der, issuers, now, "import "+abs)
			if err != nil {
				rep.Problems = append(rep.Problems, crlProblem{Input: name, Error: crlProblemText(err, false)})
				continue
			}
			rep.CRLs = append(rep.CRLs, crlRow{CRLInfo: info, Expired: info.Expired(now)})
		}
	}
	return finishCRL(rep, "imported", f, e)
}

// crlFetch fetches, for each argument, the CRL at an http URL or the CRLs
// (and their delta CRLs) of every certificate of a chain file.
func crlFetch(ctx context.Context, cache *revocation.CRLCache, dir string, args []string, f crlFlags, e env) int {
	jobs, extra, err := fetchJobs(args)
	if err != nil {
		return errorExit(e, err)
	}
	issuers, err := issuersFor(f, extra, e)
	if err != nil {
		return errorExit(e, err)
	}
	if f.out != "" {
		if err := os.MkdirAll(f.out, 0o755); err != nil {
			return errorExit(e, badInput("--out: %v", err))
		}
	}
	rep := crlReport{CacheDir: dir, CRLs: []crlRow{}}
	fetchAll(ctx, cache, jobs, issuers, f.out, e.now(), &rep)
	return finishCRL(rep, "fetched", f, e)
}

// fetchJob is one CRL to fetch: its URL and the argument it came from.
type fetchJob struct{ input, url string }

// fetchJobs turns the arguments into URLs: an http URL as is, a chain file
// into the CRL distribution points of its certificates, which are also
// returned as candidate CRL issuers.
func fetchJobs(args []string) ([]fetchJob, []*x509.Certificate, error) {
	var jobs []fetchJob
	var extra []*x509.Certificate
	for _, a := range args {
		if strings.Contains(a, "://") {
			if !strings.HasPrefix(strings.ToLower(a), "http://") {
				return nil, nil, badInput("%s: only http CRL URLs are fetched (the CRL is signed; notation fetches http only)", a)
			}
			jobs = append(jobs, fetchJob{input: a, url: a})
			continue
		}
		certs, err := readCertFile(a)
		if err != nil {
			return nil, nil, err
		}
		extra = append(extra, certs...)
		n := len(jobs)
		for _, c := range certs {
			for _, u := range c.CRLDistributionPoints {
				jobs = append(jobs, fetchJob{input: fmt.Sprintf("%s (%s)", a, c.Subject), url: u})
			}
		}
		if len(jobs) == n {
			return nil, nil, badInput("%s: no certificate in it names a CRL distribution point", a)
		}
	}
	return jobs, extra, nil
}

// fetchAll fetches each job's CRL once, then the delta CRLs it announces,
// into the cache (and a copy into out when set), recording each outcome in
// rep.
func fetchAll(ctx context.Context, cache *revocation.CRLCache, jobs []fetchJob, issuers []*x509.Certificate, out string, now time.Time, rep *crlReport) {
	done := map[string]bool{}
	var fetch func(input, u string)
	fetch = func(input, u string) {
		if done[u] {
			return
		}
		done[u] = true
		info, err := cache.FetchFrom(ctx, u, issuers, now)
		if err != nil {
			rep.Problems = append(rep.Problems, crlProblem{Input: input, Error: crlProblemText(err, strings.Contains(input, "://"))})
			return
		}
		rep.CRLs = append(rep.CRLs, crlRow{CRLInfo: info, Expired: info.Expired(now)})
		if out != "" {
			if saved, err := copyCRL(cache, info, out); err != nil {
				rep.Problems = append(rep.Problems, crlProblem{Input: input, Error: err.Error()})
			} else {
				rep.Saved = append(rep.Saved, saved)
			}
		}
		for _, d := range info.DeltaURLs {
			fetch(input+" delta", d)
		}
	}
	for _, j := range jobs {
		fetch(j.input, j.url)
	}
}

// crlProblemText words a fetch or import failure. When no certificate
// given issued the CRL, it adds the fix: the certificate of the
// intermediate CA that issued it, with --issuer (it must chain to a trust
// store; an intermediate is never put into a trust store, which would make
// it a trust anchor), or for a URL the signing chain file instead.
func crlProblemText(err error, url bool) string {
	var ie *revocation.IssuerError
	if !errors.As(err, &ie) || !errors.Is(err, revocation.ErrNoIssuer) {
		return err.Error()
	}
	fix := fmt.Sprintf("%v (the trust store certificates and the CA certificates given that chain to them); pass --issuer FILE with the certificate of %q, the intermediate CA that issued it (it must chain to a trust store)", err, ie.Issuer)
	if url {
		fix += ", or give the signing chain file (leaf first) instead of the URL"
	}
	return fix
}

// copyCRL writes the cached DER of info into dir as KEY.crl.
func copyCRL(cache *revocation.CRLCache, info revocation.CRLInfo, dir string) (string, error) {
	der, err := cache.CRL(info.Key)
	if err != nil {
		return "", fmt.Errorf("--out: %w", err)
	}
	p := filepath.Join(dir, info.Key+".crl")
	if err := os.WriteFile(p, der, 0o644); err != nil {
		return "", fmt.Errorf("--out: %w", err)
	}
	return p, nil
}
