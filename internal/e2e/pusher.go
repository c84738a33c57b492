package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	_ "github.com/notaryproject/notation-core-go/signature/cose" // COSE envelopes
	_ "github.com/notaryproject/notation-core-go/signature/jws"  // JWS envelopes
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// ArtifactTypeNotation is the artifactType of a Notary Project signature
// manifest.
const ArtifactTypeNotation = "application/vnd.cncf.notary.signature"

// Pusher pushes test artifacts, image indexes and signatures to a registry
// on 127.0.0.1 over plain HTTP with oras-go, without credentials: the
// set-up of tests and benchmarks that need many artifacts, without a
// process per artifact. Signatures are pushed as notation pushes them: a
// manifest of artifactType application/vnd.cncf.notary.signature whose
// only layer is the envelope and whose subject is the artifact (oras-go
// uses the referrers API or maintains the referrers tag schema). It is
// safe for concurrent use.
type Pusher struct {
	host   string
	client *auth.Client

	mu    sync.Mutex
	repos map[string]*remote.Repository
}

// NewPusher returns a Pusher to the registry at host ("127.0.0.1:PORT").
func NewPusher(host string) *Pusher {
	return &Pusher{host: host, client: &auth.Client{Cache: auth.NewCache()}, repos: map[string]*remote.Repository{}}
}

func (p *Pusher) repo(name string) (*remote.Repository, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r := p.repos[name]; r != nil {
		return r, nil
	}
	r, err := remote.NewRepository(p.host + "/" + name)
	if err != nil {
		return nil, fmt.Errorf("e2e: repository %s: %w", name, err)
	}
	r.PlainHTTP, r.Client = true, p.client
	p.repos[name] = r
	return r, nil
}

func (p *Pusher) push(ctx context.Context, r *remote.Repository, d ocispec.Descriptor, data []byte, tag string) error {
	var err error
	if tag != "" {
		err = r.PushReference(ctx, d, bytes.NewReader(data), tag)
	} else {
		err = r.Push(ctx, d, bytes.NewReader(data))
	}
	if err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return fmt.Errorf("e2e: pushing %s to %s: %w", d.Digest, r.Reference, err)
	}
	return nil
}

// Artifact pushes a small OCI image manifest whose one layer is content to
// repo (tagged tag unless "") and returns its descriptor.
func (p *Pusher) Artifact(ctx context.Context, repo, tag string, content []byte) (ocispec.Descriptor, error) {
	r, err := p.repo(repo)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	cfg := ocispec.DescriptorEmptyJSON
	if err := p.push(ctx, r, cfg, cfg.Data, ""); err != nil {
		return ocispec.Descriptor{}, err
	}
	layer := descriptorOf(ArtifactMediaType, content)
	if err := p.push(ctx, r, layer, content, ""); err != nil {
		return ocispec.Descriptor{}, err
	}
	m := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.test.artifact",
		Config:       ocispec.Descriptor{MediaType: cfg.MediaType, Digest: cfg.Digest, Size: cfg.Size},
		Layers:       []ocispec.Descriptor{layer},
	}
	m.SchemaVersion = 2
	return p.manifest(ctx, r, ocispec.MediaTypeImageManifest, m, tag)
}

// Index pushes an OCI image index of manifests (which must be in repo
// already, with their Platform set) to repo:tag.
func (p *Pusher) Index(ctx context.Context, repo, tag string, manifests []ocispec.Descriptor) (ocispec.Descriptor, error) {
	r, err := p.repo(repo)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests}
	idx.SchemaVersion = 2
	return p.manifest(ctx, r, ocispec.MediaTypeImageIndex, idx, tag)
}

// Signature pushes envelope (of mediaType, application/cose or
// application/jose+json) as a Notary Project signature of subject in repo
// and returns the signature manifest's descriptor.
func (p *Pusher) Signature(ctx context.Context, repo string, subject ocispec.Descriptor, mediaType string, envelope []byte) (ocispec.Descriptor, error) {
	r, err := p.repo(repo)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	cfg := ocispec.DescriptorEmptyJSON
	if err := p.push(ctx, r, cfg, cfg.Data, ""); err != nil {
		return ocispec.Descriptor{}, err
	}
	layer := descriptorOf(mediaType, envelope)
	if err := p.push(ctx, r, layer, envelope, ""); err != nil {
		return ocispec.Descriptor{}, err
	}
	s := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	m := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactTypeNotation,
		Config:       ocispec.Descriptor{MediaType: cfg.MediaType, Digest: cfg.Digest, Size: cfg.Size},
		Layers:       []ocispec.Descriptor{layer},
		Subject:      &s,
	}
	m.SchemaVersion = 2
	d, err := p.manifest(ctx, r, ocispec.MediaTypeImageManifest, m, "")
	d.ArtifactType = ArtifactTypeNotation
	return d, err
}

func (p *Pusher) manifest(ctx context.Context, r *remote.Repository, mediaType string, v any, tag string) (ocispec.Descriptor, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("e2e: %w", err)
	}
	d := descriptorOf(mediaType, data)
	return d, p.push(ctx, r, d, data, tag)
}

func descriptorOf(mediaType string, data []byte) ocispec.Descriptor {
	return content.NewDescriptorFromBytes(mediaType, data)
}

// SignOptions shape an envelope made by SignEnvelope.
type SignOptions struct {
	// MediaType is application/cose (default) or application/jose+json.
	MediaType string
	// SigningTime defaults to now; Expiry, when set, is the signed expiry
	// (in the past for an expired signature).
	SigningTime, Expiry time.Time
}

// SignEnvelope signs desc with key and chain (leaf first) as notation
// sign does (notation-core-go, the notary.x509 scheme), with the signing
// time and expiry of opts, which notation sign cannot set.
func SignEnvelope(key crypto.Signer, chain []*x509.Certificate, desc ocispec.Descriptor, opts SignOptions) ([]byte, error) {
	if opts.MediaType == "" {
		opts.MediaType = "application/cose"
	}
	if opts.SigningTime.IsZero() {
		opts.SigningTime = time.Now()
	}
	signer, err := signature.NewLocalSigner(chain, key)
	if err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	payload, err := json.Marshal(map[string]any{"targetArtifact": ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}})
	if err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	env, err := signature.NewEnvelope(opts.MediaType)
	if err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	sig, err := env.Sign(&signature.SignRequest{
		Payload:       signature.Payload{ContentType: "application/vnd.cncf.notary.payload.v1+json", Content: payload},
		Signer:        signer,
		SigningTime:   opts.SigningTime,
		Expiry:        opts.Expiry,
		SigningScheme: signature.SigningSchemeX509,
		SigningAgent:  "notation-pkcs11 e2e",
	})
	if err != nil {
		return nil, fmt.Errorf("e2e: signing: %w", err)
	}
	return sig, nil
}
