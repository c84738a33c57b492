package service

import (
	"errors"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
)

// Config is what a Service is built from.
type Config struct {
	// Engine evaluates signatures. Required.
	Engine *trustpolicy.Engine
	// Registry fetches what Verify and VerifySignature need. It may be nil
	// for a Service that only verifies local envelopes (VerifyEnvelope);
	// Verify and VerifySignature then fail with ErrNoRegistry.
	Registry *registry.Client
	// Now is the verification time, read once per signature evaluated.
	// Default time.Now.
	Now func() time.Time
}

// Options are per-call settings. The zero value is the default.
type Options struct {
	// UserMetadata must all be present in the signed annotations
	// (notation's --user-metadata).
	UserMetadata map[string]string
	// MaxSignatures is how many signatures Verify examines at most
	// (notation's --max-signatures). 0: the registry client's limit.
	// Negative is bad input.
	MaxSignatures int
}

// Service verifies artifacts: one engine, one registry client, one clock.
// It is immutable and safe for concurrent use. Create it with [New].
type Service struct {
	engine   *trustpolicy.Engine
	registry *registry.Client
	now      func() time.Time
}

// New returns a Service over cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Engine == nil {
		return nil, errors.New("service: Config.Engine is required")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Service{engine: cfg.Engine, registry: cfg.Registry, now: now}, nil
}

// ErrNoRegistry is returned by Verify and VerifySignature of a Service
// built without a registry client.
var ErrNoRegistry = errors.New("service: no registry client configured")

// ErrInvalidInput is wrapped by every *InputError.
var ErrInvalidInput = errors.New("invalid input")

// Field names the input an *InputError is about.
type Field string

// Fields of an *InputError.
const (
	// FieldReference: the artifact reference alone is bad (it does not
	// parse, has no registry host, or cannot select a policy statement).
	FieldReference Field = "reference"
	// FieldDescriptor: the artifact descriptor is invalid.
	FieldDescriptor Field = "descriptor"
	// FieldSubject: the reference and the descriptor, checked together,
	// do not name one artifact (or the reference does not parse as one).
	FieldSubject Field = "subject"
	// FieldOptions: an option is out of range.
	FieldOptions Field = "options"
)

// InputError is bad input from the caller: a command reports it as a usage
// error, a server as a bad request. Its message is the underlying error's,
// unchanged; Field says which input it is about.
type InputError struct {
	Field Field
	Err   error
}

func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *InputError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *InputError) Is(target error) bool { return target == ErrInvalidInput }

func inputError(f Field, err error) error { return &InputError{Field: f, Err: err} }

// newReport is the report for reference, with notation's warning when it
// was resolved from a tag.
func newReport(reference, tag string) *trustpolicy.Report {
	report := &trustpolicy.Report{Reference: reference, Tag: tag}
	if tag != "" {
		report.Warn(trustpolicy.TagWarning(tag))
	}
	return report
}
