package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

// perRepo is how many artifacts share a repository: a release spans many
// repositories, and bulk verification keeps one registry client (and its
// learned referrers capability) for all of them.
const perRepo = 10

func repoName(i int) string { return fmt.Sprintf("bench/app-%04d", i/perRepo) }

// pushSigned pushes artifact i and its COSE signature, and records its
// digest reference.
func (w *world) pushSigned(ctx context.Context, p *e2e.Pusher, i int, key crypto.Signer, chain []*x509.Certificate) error {
	d, err := p.Artifact(ctx, repoName(i), "", fmt.Appendf(nil, "bench artifact %d", i))
	if err != nil {
		return err
	}
	env, err := e2e.SignEnvelope(key, chain, d, e2e.SignOptions{MediaType: "application/cose"})
	if err != nil {
		return err
	}
	if _, err := p.Signature(ctx, repoName(i), d, "application/cose", env); err != nil {
		return err
	}
	w.refs[i] = w.reg.Ref(repoName(i) + "@" + d.Digest.String())
	return nil
}

var errNoSignature = errors.New("no signature listed")

// floor makes, for each of the first n artifacts, the requests
// verification must make (resolve, one referrers call, the signature
// manifest, the envelope) with oras-go, jobs at once over keep-alive
// connections, and verifies nothing.
func (w *world) floor(ctx context.Context, n int) (time.Duration, error) {
	jobs := w.c.jobs
	client := &auth.Client{
		Client: &http.Client{Transport: &http.Transport{MaxIdleConns: jobs * 2, MaxIdleConnsPerHost: jobs * 2, IdleConnTimeout: 90 * time.Second}},
		Cache:  auth.NewCache(),
	}
	var mu sync.Mutex
	repos := map[string]*remote.Repository{}
	repoOf := func(ref string) (*remote.Repository, error) {
		name := ref[:strings.LastIndex(ref, "@")]
		mu.Lock()
		defer mu.Unlock()
		if r := repos[name]; r != nil {
			return r, nil
		}
		r, err := remote.NewRepository(name)
		if err != nil {
			return nil, err
		}
		r.PlainHTTP, r.Client = true, client
		repos[name] = r
		return r, nil
	}
	next := make(chan int)
	errs := make(chan error, jobs)
	var wg sync.WaitGroup
	start := time.Now()
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				repo, err := repoOf(w.refs[i])
				if err == nil {
					err = fetchOne(ctx, repo, w.refs[i])
				}
				if err != nil {
					select {
					case errs <- fmt.Errorf("floor %s: %w", w.refs[i], err):
					default:
					}
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	d := time.Since(start)
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return d, nil
}

func fetchOne(ctx context.Context, repo *remote.Repository, ref string) error {
	desc, err := repo.Resolve(ctx, ref[strings.LastIndex(ref, "@")+1:])
	if err != nil {
		return err
	}
	var sig ocispec.Descriptor
	if err := repo.Referrers(ctx, desc, e2e.ArtifactTypeNotation, func(page []ocispec.Descriptor) error {
		if len(page) > 0 && sig.Digest == "" {
			sig = page[0]
		}
		return nil
	}); err != nil {
		return err
	}
	if sig.Digest == "" {
		return errNoSignature
	}
	data, err := content.FetchAll(ctx, repo, sig)
	if err != nil {
		return err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil || len(m.Layers) != 1 {
		return fmt.Errorf("signature manifest %s: %v", sig.Digest, err)
	}
	_, err = content.FetchAll(ctx, repo.Blobs(), m.Layers[0])
	return err
}
