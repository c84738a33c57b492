package ratifyverifier

import (
	"encoding/json"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
)

// UserAgent is what the verifier sends to registries.
const UserAgent = "notation-pkcs11-ratify"

// plainHTTPHint is how a Ratify user turns plain HTTP on.
const plainHTTPHint = `set "useHttp": true in the oras store entry of Ratify's config.json`

// StoreConfig is what this verifier reads of the referrer store entry that
// Ratify passes (storeConfig.store): Ratify's built-in "oras" store.
type StoreConfig struct {
	// Name is the store plugin's name; only "oras" is supported.
	Name string
	// UseHTTP makes every registry request plain HTTP (Ratify's useHttp).
	UseHTTP bool
	// DockerConfigPath is authProvider.configPath of the dockerConfig auth
	// provider: a docker config.json to read credentials from. Empty: the
	// default docker configuration ($DOCKER_CONFIG or ~/.docker/config.json).
	DockerConfigPath string
}

type wireStore struct {
	Name         string `json:"name"`
	UseHTTP      bool   `json:"useHttp"`
	AuthProvider *struct {
		Name       string `json:"name"`
		ConfigPath string `json:"configPath"`
	} `json:"authProvider"`
}

// ParseStoreConfig decodes the store entry. The oras store's other keys
// (cosignEnabled, localCachePath) are Ratify's and do not matter here.
func ParseStoreConfig(raw []byte) (StoreConfig, error) {
	var w wireStore
	if err := json.Unmarshal(raw, &w); err != nil {
		return StoreConfig{}, configErr("storeConfig.store is not a valid oras store entry: %v", err)
	}
	if w.Name != "oras" {
		return StoreConfig{}, configErr("storeConfig.store.name %q: this verifier reads signatures through Ratify's built-in \"oras\" store only; configure the store {\"name\":\"oras\"}", w.Name)
	}
	s := StoreConfig{Name: w.Name, UseHTTP: w.UseHTTP}
	if a := w.AuthProvider; a != nil {
		if a.Name != "" && a.Name != "dockerConfig" {
			return StoreConfig{}, configErr("storeConfig.store.authProvider.name %q is not supported by this verifier: use \"dockerConfig\" (docker credentials, optionally with configPath); cloud identity providers work only with Ratify's built-in verifiers", a.Name)
		}
		s.DockerConfigPath = a.ConfigPath
	}
	return s, nil
}

// RegistryOptions maps the store entry onto the registry client's options:
// useHttp is PlainHTTP (without it every plain-HTTP request, redirects and
// token realms included, is refused), and credentials come from the docker
// configuration at DockerConfigPath (default: $DOCKER_CONFIG or
// ~/.docker/config.json), read only when a registry asks for them. Timeouts
// are the caller's: Config.Timeout bounds each verification.
func (s StoreConfig) RegistryOptions() registry.Options {
	return registry.Options{
		PlainHTTP:     s.UseHTTP,
		Credentials:   registry.DockerCredentials(s.DockerConfigPath),
		UserAgent:     UserAgent,
		PlainHTTPHint: plainHTTPHint,
	}
}
