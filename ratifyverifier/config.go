package ratifyverifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
)

// Defaults of the verifier entry. They fit Gatekeeper's 3 s validating
// webhook and Ratify's 2.9 s executor budget: revocation gets at most
// DefaultOCSPTimeout + DefaultCRLTimeout = 2 s of DefaultTimeout = 2.5 s,
// leaving 0.5 s for the registry.
const (
	DefaultTimeout     = 2500 * time.Millisecond
	DefaultOCSPTimeout = 800 * time.Millisecond
	DefaultCRLTimeout  = 1200 * time.Millisecond
)

// Config is the verifier's entry in the verifier.plugins list of Ratify's
// config.json. Exactly one of TrustPolicyDoc and TrustPolicyPath, and
// exactly one of TrustStorePath and TrustStores, must be given.
type Config struct {
	// Name and Type are Ratify's: Type (or Name when Type is empty) is the
	// plugin's file name in Ratify's plugin folder. Both are echoed in the
	// result.
	Name string `json:"name"`
	Type string `json:"type"`

	// TrustPolicyDoc is a notation trustpolicy.json document inline (the
	// same key as Ratify's built-in notation verifier). TrustPolicyPath is
	// the path of one.
	TrustPolicyDoc  json.RawMessage `json:"trustPolicyDoc"`
	TrustPolicyPath string          `json:"trustPolicyPath"`

	// TrustStorePath is a folder in notation's layout: it holds
	// x509/<type>/<name>/*.crt|*.pem (notation: $NOTATION_CONFIG/truststore).
	TrustStorePath string `json:"trustStorePath"`
	// TrustStores are inline stores: "type:name" (as the trust policy
	// names them, e.g. "ca:release") to PEM text holding the store's
	// certificates.
	TrustStores map[string]string `json:"trustStores"`

	// Timeout bounds one whole verification: registry fetches and
	// revocation. Default 2.5 s.
	Timeout Duration `json:"timeout"`

	// Revocation configures OCSP and CRL checking.
	Revocation RevocationConfig `json:"revocation"`
}

// RevocationConfig is the "revocation" object of the verifier entry.
type RevocationConfig struct {
	// CacheDir holds validated CRLs and OCSP responses across runs (each
	// verification is a new process, so this is the only cache). Default:
	// the revocation package's (os.UserCacheDir()/notation-pkcs11/crl).
	CacheDir string `json:"cacheDir"`
	// NoDiskCache keeps nothing on disk.
	NoDiskCache bool `json:"noDiskCache"`
	// Offline answers from CacheDir only (CRLs imported with `trustpolicy
	// crl import` or fetched earlier); a missing CRL is "unknown".
	Offline bool `json:"offline"`
	// OCSPTimeout bounds one OCSP exchange (default 800 ms), CRLTimeout one
	// CRL download (default 1.2 s). Their sum must stay below Timeout.
	OCSPTimeout Duration `json:"ocspTimeout"`
	CRLTimeout  Duration `json:"crlTimeout"`
	// MaxCRLBytes caps one CRL (default 32 MiB, notation's).
	MaxCRLBytes int64 `json:"maxCRLBytes"`
}

// ratifyKeys are the verifier-entry keys that belong to Ratify itself.
func ratifyKeys() []string {
	return []string{"name", "type", "artifactTypes", "nestedReferences", "source", "version"}
}

// ourKeys are the keys this verifier reads.
func ourKeys() []string {
	return []string{"trustPolicyDoc", "trustPolicyPath", "trustStorePath", "trustStores", "timeout", "revocation"}
}

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("invalid verifier configuration")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
}

// ParseConfig decodes and checks the verifier entry. Unknown keys are an
// error (a typo must not pass silently); Ratify's own keys are allowed.
func ParseConfig(raw []byte) (*Config, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, configErr("the verifier entry is not a JSON object: %v", err)
	}
	allowed := map[string]bool{}
	for _, k := range append(ratifyKeys(), ourKeys()...) {
		allowed[k] = true
	}
	var unknown []string
	for k := range keys {
		if !allowed[k] {
			unknown = append(unknown, textsafe.Escape(k))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, configErr("unknown keys %s in the verifier entry; this verifier reads %s (and Ratify's %s)",
			strings.Join(unknown, ", "), strings.Join(ourKeys(), ", "), strings.Join(ratifyKeys(), ", "))
	}
	var c Config
	// Ratify's own keys may hold anything; decode ours only.
	ours := map[string]json.RawMessage{}
	for _, k := range ourKeys() {
		if v, ok := keys[k]; ok {
			ours[k] = v
		}
	}
	for _, k := range []string{"name", "type"} {
		if v, ok := keys[k]; ok {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, configErr("%q must be a string", k)
			}
			if k == "name" {
				c.Name = s
			} else {
				c.Type = s
			}
		}
	}
	if c.Name == "" {
		return nil, configErr("the verifier entry has no \"name\"")
	}
	b, _ := json.Marshal(ours) // re-encoding decoded raw messages cannot fail
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, configErr("verifier %q: %v", c.Name, err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("verifier %q: %w", c.Name, err)
	}
	return &c, nil
}

func (c *Config) check() error {
	hasDoc := len(c.TrustPolicyDoc) > 0 && string(c.TrustPolicyDoc) != "null"
	if !hasDoc {
		c.TrustPolicyDoc = nil
	}
	switch {
	case hasDoc && c.TrustPolicyPath != "":
		return configErr("give trustPolicyDoc or trustPolicyPath, not both")
	case !hasDoc && c.TrustPolicyPath == "":
		return configErr("no trust policy: give trustPolicyDoc (a notation trustpolicy.json document inline) or trustPolicyPath (its file)")
	case c.TrustStorePath != "" && c.TrustStores != nil:
		return configErr("give trustStorePath or trustStores, not both")
	case c.TrustStorePath == "" && c.TrustStores == nil:
		return configErr("no trust store: give trustStorePath (a folder holding x509/<type>/<name>/) or trustStores ({\"ca:NAME\": \"PEM\"})")
	}
	if hasDoc && !bytes.HasPrefix(bytes.TrimSpace(c.TrustPolicyDoc), []byte("{")) {
		return configErr("trustPolicyDoc must be a JSON object (a trustpolicy.json document)")
	}
	if c.Timeout == 0 {
		c.Timeout = Duration(DefaultTimeout)
	}
	r := &c.Revocation
	if r.OCSPTimeout == 0 {
		r.OCSPTimeout = Duration(DefaultOCSPTimeout)
	}
	if r.CRLTimeout == 0 {
		r.CRLTimeout = Duration(DefaultCRLTimeout)
	}
	switch {
	case c.Timeout < 0:
		return configErr("timeout %s is negative", c.Timeout)
	case r.OCSPTimeout < 0:
		return configErr("revocation.ocspTimeout %s is negative", r.OCSPTimeout)
	case r.CRLTimeout < 0:
		return configErr("revocation.crlTimeout %s is negative", r.CRLTimeout)
	case r.MaxCRLBytes < 0:
		return configErr("revocation.maxCRLBytes %d is negative", r.MaxCRLBytes)
	case r.OCSPTimeout+r.CRLTimeout >= c.Timeout:
		return configErr("revocation.ocspTimeout (%s) + revocation.crlTimeout (%s) must be below timeout (%s), or a slow responder uses the whole budget: lower them or raise timeout (keep timeout below Gatekeeper's webhook timeout, 3 s by default)",
			r.OCSPTimeout, r.CRLTimeout, c.Timeout)
	case r.Offline && r.NoDiskCache:
		return configErr("revocation.offline needs the disk cache: remove revocation.noDiskCache, or offline can never find a CRL")
	}
	return nil
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("800ms", "2s").
type Duration time.Duration

// UnmarshalJSON reads "800ms" and the like.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"800ms\" or \"2s\", got %s", textsafe.Escape(string(b)))
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration string such as \"800ms\" or \"2s\": %w", err)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d Duration) String() string { return time.Duration(d).String() }
