package ratifyverifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
)

// Environment variables and values of Ratify v1's verifier plugin protocol.
const (
	EnvCommand    = "RATIFY_VERIFIER_COMMAND"
	EnvSubject    = "RATIFY_VERIFIER_SUBJECT"
	EnvVersion    = "RATIFY_VERIFIER_VERSION"
	CommandVerify = "VERIFY"

	// Version100 is the version Ratify sends when config.json's verifier
	// section (or the plugin's entry) says "version": "1.0.0".
	Version100 = "1.0.0"
	// Version010 is what Ratify sends when neither says a version.
	Version010 = "0.1.0"

	// MaxRequestBytes caps stdin: the verifier entry (with an inline trust
	// policy and inline PEM trust stores), the store entry and a descriptor.
	MaxRequestBytes = 4 << 20
)

// Protocol error codes, Ratify v1's (pkg/verifier/types).
const (
	CodeUnknown             uint = 0
	CodeConfigParsing       uint = 1
	CodeInvalidConfig       uint = 2
	CodeUnknownCommand      uint = 3
	CodeMissingEnvironment  uint = 4
	CodeIO                  uint = 5
	CodeVersionNotSupported uint = 6
	CodeArgsParsing         uint = 7
	CodePluginCmdFailure    uint = 8
	CodeInternal            uint = 999
)

// ErrProtocol is wrapped by every *ProtocolError.
var ErrProtocol = errors.New("ratify verifier protocol error")

// ErrTrailingData is wrapped by the error for a request with bytes other
// than JSON whitespace after its JSON object.
var ErrTrailingData = errors.New("unexpected data after the JSON object")

// ProtocolError is a request the verifier cannot serve. It is printed as
// Ratify's plugin error object {"code","msg"} and the process exits 1. Msg
// is one line with control characters escaped.
type ProtocolError struct {
	Code uint   `json:"code"`
	Msg  string `json:"msg"`
	Err  error  `json:"-"`
}

func (e *ProtocolError) Error() string { return e.Msg }

// Unwrap returns the underlying error.
func (e *ProtocolError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrProtocol) true.
func (e *ProtocolError) Is(target error) bool { return target == ErrProtocol }

func protoErr(code uint, err error) *ProtocolError {
	return &ProtocolError{Code: code, Msg: textsafe.Escape(err.Error()), Err: err}
}

// Request is one parsed VERIFY request.
type Request struct {
	// Subject is RATIFY_VERIFIER_SUBJECT, the artifact whose signature this
	// is.
	Subject string
	// Version is RATIFY_VERIFIER_VERSION.
	Version string
	// Config is the verifier's entry of Ratify's config.json, parsed.
	Config *Config
	// Store is the referrer store the signature lives in.
	Store StoreConfig
	// Signature is the signature manifest's descriptor (referenceDesc).
	Signature ocispec.Descriptor
}

// wireRequest is stdin as Ratify writes it.
type wireRequest struct {
	Config      json.RawMessage `json:"config"`
	StoreConfig *struct {
		Version       string          `json:"version"`
		PluginBinDirs []string        `json:"pluginBinDirs"`
		Store         json.RawMessage `json:"store"`
	} `json:"storeConfig"`
	ReferenceDesc *ocispec.Descriptor `json:"referenceDesc"`
}

// ParseRequest reads a request from the environment (getenv) and stdin.
// Every error is a *ProtocolError that names the variable or JSON field and
// says what to fix.
func ParseRequest(getenv func(string) string, stdin []byte) (*Request, error) {
	var missing []string
	cmd, subject, version := getenv(EnvCommand), getenv(EnvSubject), getenv(EnvVersion)
	for _, kv := range [][2]string{{EnvCommand, cmd}, {EnvVersion, version}, {EnvSubject, subject}} {
		if kv[1] == "" {
			missing = append(missing, kv[0])
		}
	}
	if len(missing) > 0 {
		return nil, protoErr(CodeMissingEnvironment, fmt.Errorf(
			"missing environment variables %s: this program is a Ratify verifier plugin; Ratify runs it with %s=%s, %s and %s set (run it with -h for help)",
			strings.Join(missing, ", "), EnvCommand, CommandVerify, EnvSubject, EnvVersion))
	}
	if cmd != CommandVerify {
		return nil, protoErr(CodeUnknownCommand, fmt.Errorf("unknown %s %q: the only command is %s", EnvCommand, cmd, CommandVerify))
	}
	if version != Version100 && version != Version010 {
		return nil, protoErr(CodeVersionNotSupported, fmt.Errorf(
			"unsupported %s %q: this verifier speaks %s (and Ratify's default %s); set \"version\": %q in the verifier section of Ratify's config.json",
			EnvVersion, version, Version100, Version010, Version100))
	}
	if len(stdin) > MaxRequestBytes {
		return nil, protoErr(CodeIO, fmt.Errorf("the request on stdin is over %d bytes: give the trust policy and trust stores by path (trustPolicyPath, trustStorePath) instead of inline", MaxRequestBytes))
	}
	var w wireRequest
	dec := json.NewDecoder(bytes.NewReader(stdin))
	if err := dec.Decode(&w); err != nil {
		return nil, protoErr(CodeConfigParsing, fmt.Errorf("decoding the request on stdin: %w: Ratify writes {\"config\":…,\"storeConfig\":…,\"referenceDesc\":…}", err))
	}
	if err := onlyWhitespace(stdin, dec.InputOffset()); err != nil {
		return nil, protoErr(CodeConfigParsing, fmt.Errorf("decoding the request on stdin: %w; Ratify writes one JSON object and nothing after it", err))
	}
	switch {
	case len(w.Config) == 0 || string(w.Config) == "null":
		return nil, protoErr(CodeInvalidConfig, errors.New("the request has no \"config\" (the verifier entry of Ratify's config.json)"))
	case w.StoreConfig == nil || len(w.StoreConfig.Store) == 0 || string(w.StoreConfig.Store) == "null":
		return nil, protoErr(CodeInvalidConfig, errors.New("the request has no \"storeConfig.store\" (the referrer store entry of Ratify's config.json)"))
	case w.ReferenceDesc == nil:
		return nil, protoErr(CodeArgsParsing, errors.New("the request has no \"referenceDesc\" (the signature manifest to verify)"))
	}
	cfg, err := ParseConfig(w.Config)
	if err != nil {
		return nil, protoErr(CodeInvalidConfig, err)
	}
	store, err := ParseStoreConfig(w.StoreConfig.Store)
	if err != nil {
		return nil, protoErr(CodeInvalidConfig, err)
	}
	d := *w.ReferenceDesc
	if err := d.Digest.Validate(); err != nil {
		return nil, protoErr(CodeArgsParsing, fmt.Errorf("referenceDesc.digest %q: %w", string(d.Digest), err))
	}
	if d.Digest.Algorithm() != digest.SHA256 && d.Digest.Algorithm() != digest.SHA512 {
		return nil, protoErr(CodeArgsParsing, fmt.Errorf("referenceDesc.digest %q: want a sha256 or sha512 digest", d.Digest))
	}
	if d.Size <= 0 {
		return nil, protoErr(CodeArgsParsing, fmt.Errorf("referenceDesc.size %d: want the signature manifest's size in bytes", d.Size))
	}
	if d.MediaType == "" {
		return nil, protoErr(CodeArgsParsing, errors.New("referenceDesc.mediaType is empty: want the signature manifest's media type"))
	}
	return &Request{
		Subject:   subject,
		Version:   version,
		Config:    cfg,
		Store:     store,
		Signature: ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, ArtifactType: d.ArtifactType},
	}, nil
}

// maxExcerpt is how many bytes of unexpected trailing data an error quotes.
const maxExcerpt = 32

// onlyWhitespace returns an error wrapping [ErrTrailingData] that quotes
// what follows when data[off:] holds anything but JSON whitespace.
func onlyWhitespace(data []byte, off int64) error {
	if off < 0 || off > int64(len(data)) {
		off = int64(len(data))
	}
	rest := data[off:]
	trimmed := bytes.TrimLeft(rest, " \t\r\n")
	if len(trimmed) == 0 {
		return nil
	}
	at := off + int64(len(rest)-len(trimmed))
	excerpt := fmt.Sprintf("%q", trimmed[:min(len(trimmed), maxExcerpt)])
	if len(trimmed) > maxExcerpt {
		excerpt += fmt.Sprintf(" and %d more bytes", len(trimmed)-maxExcerpt)
	}
	return fmt.Errorf("%w at byte %d: %s", ErrTrailingData, at, excerpt)
}

// Response is the verifier result Ratify reads from stdout.
type Response struct {
	IsSuccess bool   `json:"isSuccess"`
	Message   string `json:"message"`
	Name      string `json:"name"`
	Type      string `json:"type,omitempty"`
	// Extensions is the structured result.
	Extensions *Extensions `json:"extensions"`
}

// Marshal encodes r as the single line of JSON Ratify expects. Message is
// escaped with textsafe.Escape, and any other control or bidirectional
// character in a string (certificate text in Extensions.Result) is written
// as a JSON \u escape, so the line holds none raw.
func (r *Response) Marshal() ([]byte, error) {
	c := *r
	c.Message = textsafe.Escape(c.Message)
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encoding the verifier result: %w", err)
	}
	return append(textsafe.EscapeJSON(b), '\n'), nil
}

// Marshal encodes e as Ratify's single-line plugin error object, with Msg
// escaped.
func (e *ProtocolError) Marshal() []byte {
	b, err := json.Marshal(&ProtocolError{Code: e.Code, Msg: textsafe.Escape(e.Msg)})
	if err != nil { // a struct of a uint and a string always encodes
		b = []byte(`{"code":999,"msg":"encoding the plugin error failed"}`)
	}
	return append(textsafe.EscapeJSON(b), '\n')
}
