package ratifyverifier

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	tpregistry "github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
)

// Fetcher is the registry access a verification needs. Tests inject fakes.
type Fetcher interface {
	// Resolve returns the manifest descriptor of subject
	// (REGISTRY/REPO@DIGEST or REGISTRY/REPO:TAG).
	Resolve(ctx context.Context, subject string) (ocispec.Descriptor, error)
	// Envelope fetches the signature manifest sig from the repository of
	// subject and returns its only layer, the envelope, with its media
	// type and the manifest's subject.
	Envelope(ctx context.Context, subject string, sig ocispec.Descriptor) (Signature, error)
}

// Signature is what a signature manifest yields.
type Signature struct {
	// Envelope is the signature envelope, MediaType its media type
	// (application/jose+json or application/cose).
	Envelope  []byte
	MediaType string
	// Subject is the manifest's "subject": the descriptor of the artifact
	// the manifest says it signs. Nil when the manifest has none.
	Subject *ocispec.Descriptor
}

// Timeouts of the registry client; Config.Timeout bounds them all.
const (
	dialTimeout           = 2 * time.Second
	tlsHandshakeTimeout   = 2 * time.Second
	responseHeaderTimeout = 2 * time.Second
)

// RegistryFetcher is the Fetcher for an OCI registry, built on oras-go v2.
// It is safe for concurrent use.
type RegistryFetcher struct {
	client      *auth.Client
	plainHTTP   bool
	maxManifest int64
	maxEnvelope int64
}

// NewRegistryFetcher returns a fetcher for store. httpClient nil gives one
// with short dial, TLS and response-header timeouts, TLS 1.2 or later,
// proxies from the environment and, unless store.UseHTTP, a guard that
// refuses every plain-HTTP request (redirects and token realms included).
func NewRegistryFetcher(store StoreConfig, httpClient *http.Client) *RegistryFetcher {
	if httpClient == nil {
		httpClient = defaultHTTPClient(store.UseHTTP)
	}
	c := &auth.Client{Client: httpClient, Cache: auth.NewCache(), Credential: tpregistry.DockerCredentials(store.DockerConfigPath), ClientID: "notation-pkcs11-ratify"}
	c.SetUserAgent("notation-pkcs11-ratify")
	return &RegistryFetcher{
		client:      c,
		plainHTTP:   store.UseHTTP,
		maxManifest: tpregistry.DefaultMaxManifestBytes,
		maxEnvelope: tpregistry.DefaultMaxEnvelopeBytes,
	}
}

func (f *RegistryFetcher) repository(subject string) (*remote.Repository, registry.Reference, error) {
	ref, err := registry.ParseReference(subject)
	if err != nil {
		return nil, ref, fmt.Errorf("subject %q is not a registry reference: %w", subject, err)
	}
	return &remote.Repository{Client: f.client, Reference: ref, PlainHTTP: f.plainHTTP, MaxMetadataBytes: f.maxManifest}, ref, nil
}

// Resolve resolves subject with a HEAD request on its manifest, as notation
// does. For a digest reference the registry must answer that digest.
func (f *RegistryFetcher) Resolve(ctx context.Context, subject string) (ocispec.Descriptor, error) {
	repo, ref, err := f.repository(subject)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	d, err := repo.Resolve(ctx, ref.Reference)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("resolving %s: %w", textsafe.Escape(subject), err)
	}
	if dg, derr := ref.Digest(); derr == nil && dg != d.Digest {
		return ocispec.Descriptor{}, fmt.Errorf("resolving %s: the registry answered digest %s", textsafe.Escape(subject), d.Digest)
	}
	return ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}, nil
}

// sigManifest holds what locates the envelope in an OCI image manifest or
// the deprecated OCI artifact manifest.
type sigManifest struct {
	MediaType string               `json:"mediaType"`
	Layers    []ocispec.Descriptor `json:"layers"`
	Blobs     []ocispec.Descriptor `json:"blobs"`
	Subject   *ocispec.Descriptor  `json:"subject"`
}

// Envelope fetches the signature manifest and its envelope, both verified
// against their descriptors' digest and size, both size-capped before any
// byte is read (notation's limits: 4 MiB manifest, 32 MiB envelope). The
// manifest's subject is returned as it is, for the caller to compare with
// the artifact it verifies.
func (f *RegistryFetcher) Envelope(ctx context.Context, subject string, sig ocispec.Descriptor) (Signature, error) {
	repo, _, err := f.repository(subject)
	if err != nil {
		return Signature{}, err
	}
	if sig.MediaType != ocispec.MediaTypeImageManifest && sig.MediaType != tpregistry.MediaTypeArtifactManifest {
		return Signature{}, fmt.Errorf("signature manifest %s: unsupported media type %q, want %q", sig.Digest, sig.MediaType, ocispec.MediaTypeImageManifest)
	}
	if sig.Size > f.maxManifest {
		return Signature{}, fmt.Errorf("signature manifest %s: size %d bytes is over the %d-byte limit", sig.Digest, sig.Size, f.maxManifest)
	}
	data, err := content.FetchAll(ctx, repo.Manifests(), sig)
	if err != nil {
		return Signature{}, fmt.Errorf("fetching signature manifest %s: %w", sig.Digest, err)
	}
	var m sigManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Signature{}, fmt.Errorf("signature manifest %s: %w", sig.Digest, err)
	}
	layers := m.Layers
	if sig.MediaType == tpregistry.MediaTypeArtifactManifest {
		layers = m.Blobs
	}
	if len(layers) != 1 {
		return Signature{}, fmt.Errorf("signature manifest %s has %d layers, want exactly 1 signature envelope", sig.Digest, len(layers))
	}
	env := layers[0]
	if env.MediaType != tpregistry.MediaTypeJWSEnvelope && env.MediaType != tpregistry.MediaTypeCOSEEnvelope {
		return Signature{}, fmt.Errorf("signature manifest %s: envelope media type %q, want %q or %q", sig.Digest, env.MediaType, tpregistry.MediaTypeJWSEnvelope, tpregistry.MediaTypeCOSEEnvelope)
	}
	if err := env.Digest.Validate(); err != nil {
		return Signature{}, fmt.Errorf("signature manifest %s: envelope digest: %w", sig.Digest, err)
	}
	if env.Size < 0 || env.Size > f.maxEnvelope {
		return Signature{}, fmt.Errorf("signature envelope %s: size %d bytes is outside 0..%d", env.Digest, env.Size, f.maxEnvelope)
	}
	blob, err := content.FetchAll(ctx, repo.Blobs(), ocispec.Descriptor{MediaType: env.MediaType, Digest: env.Digest, Size: env.Size})
	if err != nil {
		return Signature{}, fmt.Errorf("fetching signature envelope %s: %w", env.Digest, err)
	}
	var subj *ocispec.Descriptor
	if m.Subject != nil {
		subj = &ocispec.Descriptor{MediaType: m.Subject.MediaType, Digest: m.Subject.Digest, Size: m.Subject.Size}
	}
	return Signature{Envelope: blob, MediaType: env.MediaType, Subject: subj}, nil
}

func defaultHTTPClient(plainHTTP bool) *http.Client {
	dialer := &net.Dialer{Timeout: dialTimeout}
	var rt http.RoundTripper = &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		ResponseHeaderTimeout: responseHeaderTimeout,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if !plainHTTP {
		rt = httpsOnly{base: rt}
	}
	return &http.Client{Transport: rt}
}

// ErrPlainHTTP is returned for a plain-HTTP request without useHttp.
var ErrPlainHTTP = errors.New("refusing a plain-HTTP registry request: the store does not set useHttp")

type httpsOnly struct{ base http.RoundTripper }

func (t httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%w (%s)", ErrPlainHTTP, textsafe.Escape(req.URL.Redacted()))
	}
	return t.base.RoundTrip(req)
}
