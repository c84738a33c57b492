package admission

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The API versions of Gatekeeper's external data protocol. Gatekeeper sends
// v1beta1; v1alpha1 is the same document under its older name.
const (
	APIVersionV1beta1  = "externaldata.gatekeeper.sh/v1beta1"
	APIVersionV1alpha1 = "externaldata.gatekeeper.sh/v1alpha1"
)

// Kinds of the external data documents.
const (
	KindProviderRequest  = "ProviderRequest"
	KindProviderResponse = "ProviderResponse"
)

// ProviderRequest is what Gatekeeper POSTs to a provider
// (github.com/open-policy-agent/frameworks/constraint/pkg/externaldata
// NewProviderRequest).
type ProviderRequest struct {
	APIVersion string  `json:"apiVersion"`
	Kind       string  `json:"kind"`
	Request    Request `json:"request"`
}

// Request holds the keys to answer: here, image references as Pods carry
// them.
type Request struct {
	Keys []string `json:"keys"`
}

// ProviderResponse is the provider's answer.
type ProviderResponse struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Response   Response `json:"response"`
}

// Response holds one item per requested key, in request order, or a
// system error when the request as a whole could not be answered.
type Response struct {
	// Idempotent is always true: the same key at the same policy
	// generation gives the same answer until its cache entry expires.
	Idempotent bool `json:"idempotent"`
	// Items has one item per key of the request, duplicates included.
	Items []Item `json:"items"`
	// SystemError is set for faults of the server (overloaded, not ready,
	// a malformed request), never for an image that fails verification.
	SystemError string `json:"systemError,omitempty"`
}

// Item is the answer for one key. Gatekeeper's Rego sees items with an
// Error in external_data(...).errors and the others in .responses.
type Item struct {
	Key string `json:"key"`
	// Value is an *ItemValue, pre-encoded: the verdict, digest, one-line
	// summary and the full JSON result.
	Value json.RawMessage `json:"value,omitempty"`
	// Error is set for every key that did not verify (failed or
	// inconclusive verdicts, and keys that could not be checked at all):
	// the one-line summary with its fix.
	Error string `json:"error,omitempty"`
}

// ItemValue is the value of an item.
type ItemValue struct {
	// Verdict is trustpolicy's verdict (verified, skipped, failed,
	// inconclusive), or "error" when nothing could be decided (a key that
	// is not an image reference, an image the registry does not have).
	Verdict string `json:"verdict"`
	// Digest is the manifest digest verified ("" when unknown).
	Digest string `json:"digest,omitempty"`
	// Summary is the one-line result (trustpolicy.Report.Brief): the
	// verdict, the artifact, the reason and the fix.
	Summary string `json:"summary"`
	// Result is the full trustpolicy.Report as JSON (absent when nothing
	// could be decided).
	Result json.RawMessage `json:"result,omitempty"`
}

// RequestError is a ProviderRequest that cannot be answered: not JSON, an
// unknown field, trailing data, too large, the wrong apiVersion or kind,
// too many keys. Its message names the field.
type RequestError struct {
	// Status is the HTTP status the server answers with.
	Status int
	Err    error
}

func (e *RequestError) Error() string { return "bad provider request: " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *RequestError) Unwrap() error { return e.Err }

// ErrBadRequest is wrapped by every *RequestError.
var ErrBadRequest = errors.New("bad provider request")

// Is makes errors.Is(err, ErrBadRequest) true.
func (e *RequestError) Is(target error) bool { return target == ErrBadRequest }

// DecodeRequest reads one ProviderRequest from r, strictly: at most
// maxBytes bytes, no unknown fields, nothing but white space after the
// document, apiVersion v1beta1 or v1alpha1, kind ProviderRequest, at most
// maxKeys keys. Errors are *RequestError.
func DecodeRequest(r io.Reader, maxBytes int64, maxKeys int) (*ProviderRequest, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, &RequestError{Status: 400, Err: fmt.Errorf("reading the body: %w", err)}
	}
	if int64(len(data)) > maxBytes {
		return nil, &RequestError{Status: 413, Err: fmt.Errorf("body larger than %d bytes", maxBytes)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var req ProviderRequest
	if err := dec.Decode(&req); err != nil {
		return nil, &RequestError{Status: 400, Err: fmt.Errorf("not a ProviderRequest in JSON: %w", err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &RequestError{Status: 400, Err: errors.New("data after the JSON document")}
	}
	switch {
	case req.APIVersion != APIVersionV1beta1 && req.APIVersion != APIVersionV1alpha1:
		return nil, &RequestError{Status: 400, Err: fmt.Errorf("apiVersion %q: want %s or %s", req.APIVersion, APIVersionV1beta1, APIVersionV1alpha1)}
	case req.Kind != KindProviderRequest:
		return nil, &RequestError{Status: 400, Err: fmt.Errorf("kind %q: want %s", req.Kind, KindProviderRequest)}
	case len(req.Request.Keys) > maxKeys:
		return nil, &RequestError{Status: 400, Err: fmt.Errorf("request.keys: %d keys, more than the %d accepted", len(req.Request.Keys), maxKeys)}
	}
	return &req, nil
}
