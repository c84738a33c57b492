package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// Defaults for the zero values of [Options].
const (
	// DefaultMaxSignatures is notation's default for --max-signatures
	// (MaxSignatureAttempts).
	DefaultMaxSignatures = 100
	// DefaultMaxManifestBytes is notation-go's limit on a signature manifest
	// (maxManifestSizeLimit) and oras-go's limit on a referrers index.
	DefaultMaxManifestBytes int64 = 4 << 20
	// DefaultMaxEnvelopeBytes is notation-go's limit on a signature envelope
	// blob (maxBlobSizeLimit).
	DefaultMaxEnvelopeBytes int64 = 32 << 20
	// DefaultUserAgent is sent when Options.UserAgent is empty.
	DefaultUserAgent = "notation-pkcs11-trustpolicy"
	// DefaultPlainHTTPHint is used when Options.PlainHTTPHint is empty.
	DefaultPlainHTTPHint = "use --plain-http"
)

// Timeouts of the default HTTP client.
const (
	dialTimeout           = 5 * time.Second
	tlsHandshakeTimeout   = 10 * time.Second
	responseHeaderTimeout = 30 * time.Second
	// requestTimeout bounds one HTTP exchange including its retries,
	// redirects and the reading of the body (at most MaxEnvelopeBytes).
	requestTimeout = 60 * time.Second
)

// Options configures a [Client]. Zero values are safe defaults.
type Options struct {
	// PlainHTTP makes the client talk plain HTTP instead of HTTPS to the
	// registry, for any host, like notation's --insecure-registry. Nothing
	// then authenticates the registry and credentials, if the registry asks
	// for any, travel in clear text: use it only for local test registries.
	// When false, the default HTTP client refuses every plain-HTTP request,
	// including redirects and token realms on http:// URLs.
	PlainHTTP bool

	// Credentials returns the credential for a registry host ("host:port").
	// When nil, credentials are read from the docker configuration
	// (DOCKER_CONFIG or ~/.docker/config.json, its credsStore and
	// credHelpers, and the platform's default credential helper when the file
	// configures none), lazily, the first time a registry asks for
	// authentication; an error reading it fails that request.
	Credentials auth.CredentialFunc

	// HTTPClient carries the requests. It is used as is (no timeouts, retries
	// or plain-HTTP guard are added). When nil, a client with a 5 s dial
	// timeout, a 10 s TLS handshake timeout, a 30 s response header timeout,
	// a 60 s limit per request (retries included), TLS 1.2 or later, proxies
	// from the environment, oras-go's retry policy (up to 5 retries on 5xx,
	// 408, 429 and dial timeouts) and the plain-HTTP guard described at
	// PlainHTTP is used.
	HTTPClient *http.Client

	// MaxSignatures is how many signature manifests are processed at most
	// (default DefaultMaxSignatures). Negative values are an error.
	MaxSignatures int

	// MaxManifestBytes caps a signature manifest and a referrers index
	// (default DefaultMaxManifestBytes). Negative values are an error.
	MaxManifestBytes int64

	// MaxEnvelopeBytes caps a signature envelope blob (default
	// DefaultMaxEnvelopeBytes). Negative values are an error. The envelope is
	// held in memory whole.
	MaxEnvelopeBytes int64

	// UserAgent is sent with every request (default DefaultUserAgent).
	UserAgent string

	// PlainHTTPHint tells the user of the calling program how to turn
	// PlainHTTP on. It ends the hint of a TLS error from a loopback
	// registry when PlainHTTP is off (default DefaultPlainHTTPHint, the
	// trustpolicy command's flag).
	PlainHTTPHint string
}

// Client resolves references and fetches signatures. It is safe for
// concurrent use. Create it with [New].
type Client struct {
	auth             *auth.Client
	plainHTTP        bool
	plainHTTPHint    string
	maxSignatures    int
	maxManifestBytes int64
	maxEnvelopeBytes int64
	// layout, when set, is read instead of a registry (NewLayout).
	layout *layoutSource
	// cache, when set, memoizes what is read (WithCache).
	cache *cache
	// referrersAPI remembers, per registry host, whether it serves the
	// referrers API (source.go).
	referrersAPI *sync.Map
}

// New returns a Client configured by opts.
func New(opts Options) (*Client, error) {
	if opts.MaxSignatures < 0 {
		return nil, fmt.Errorf("registry: MaxSignatures must be positive, got %d", opts.MaxSignatures)
	}
	if opts.MaxManifestBytes < 0 {
		return nil, fmt.Errorf("registry: MaxManifestBytes must be positive, got %d", opts.MaxManifestBytes)
	}
	if opts.MaxEnvelopeBytes < 0 {
		return nil, fmt.Errorf("registry: MaxEnvelopeBytes must be positive, got %d", opts.MaxEnvelopeBytes)
	}
	c := &Client{
		plainHTTP:        opts.PlainHTTP,
		plainHTTPHint:    opts.PlainHTTPHint,
		maxSignatures:    orDefault(opts.MaxSignatures, DefaultMaxSignatures),
		maxManifestBytes: orDefault(opts.MaxManifestBytes, DefaultMaxManifestBytes),
		maxEnvelopeBytes: orDefault(opts.MaxEnvelopeBytes, DefaultMaxEnvelopeBytes),
		referrersAPI:     &sync.Map{},
	}
	if c.plainHTTPHint == "" {
		c.plainHTTPHint = DefaultPlainHTTPHint
	}
	httpClient := opts.HTTPClient
	if httpClient == nil {
		httpClient = defaultHTTPClient(opts.PlainHTTP)
	}
	cred := opts.Credentials
	if cred == nil {
		cred = DockerCredentials("")
	}
	c.auth = &auth.Client{
		Client:     httpClient,
		Cache:      auth.NewCache(),
		Credential: cred,
		ClientID:   "notation-pkcs11",
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	c.auth.SetUserAgent(ua)
	return c, nil
}

func orDefault[T int | int64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// repository returns an oras client for the repository of ref. A fresh one
// per call: it is cheap, and the auth cache and connections live in c.auth.
func (c *Client) repository(ref registry.Reference) *remote.Repository {
	return &remote.Repository{
		Client:           c.auth,
		Reference:        ref,
		PlainHTTP:        c.plainHTTP,
		MaxMetadataBytes: c.maxManifestBytes,
	}
}

// DockerCredentials returns a credential function over a docker
// configuration: the file at configPath, or when configPath is "" the
// default one (DOCKER_CONFIG or ~/.docker/config.json, with its credsStore
// and credHelpers and the platform's default helper). The configuration is
// read on first use, so anonymous registries never touch it; an error
// reading it fails the request that needed a credential. It is safe for
// concurrent use.
func DockerCredentials(configPath string) auth.CredentialFunc {
	d := &dockerCredentials{path: configPath}
	return d.credential
}

type dockerCredentials struct {
	path string
	once sync.Once
	fn   auth.CredentialFunc
	err  error
}

func (d *dockerCredentials) credential(ctx context.Context, hostport string) (auth.Credential, error) {
	d.once.Do(func() {
		var store credentials.Store
		var err error
		if d.path != "" {
			store, err = credentials.NewStore(d.path, credentials.StoreOptions{})
		} else {
			store, err = credentials.NewStoreFromDocker(credentials.StoreOptions{DetectDefaultNativeStore: true})
		}
		if err != nil {
			d.err = fmt.Errorf("loading registry credentials from the docker config: %w", err)
			return
		}
		d.fn = credentials.Credential(store)
	})
	if d.err != nil {
		return auth.EmptyCredential, d.err
	}
	cred, err := d.fn(ctx, hostport)
	if err != nil {
		return auth.EmptyCredential, fmt.Errorf("getting the credential for %s from the docker credential store: %w", hostport, err)
	}
	return cred, nil
}

func defaultHTTPClient(allowPlainHTTP bool) *http.Client {
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	base := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   16, // bulk verification keeps one connection per worker
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		ResponseHeaderTimeout: responseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	var rt http.RoundTripper = retry.NewTransport(base)
	if !allowPlainHTTP {
		rt = httpsOnly{base: rt}
	}
	return &http.Client{Transport: rt, Timeout: requestTimeout}
}

// errPlainHTTPRefused is returned by httpsOnly for a plain-HTTP request.
var errPlainHTTPRefused = errors.New("refusing a plain-HTTP request without PlainHTTP")

// httpsOnly refuses requests that are not HTTPS: redirects to http:// URLs
// and token realms on http:// URLs, which would otherwise carry tokens or
// credentials in clear text.
type httpsOnly struct{ base http.RoundTripper }

func (t httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%w: %s://%s", errPlainHTTPRefused, req.URL.Scheme, req.URL.Host)
	}
	return t.base.RoundTrip(req)
}
