package trustpolicy

// This file decodes trust policy bytes into a Document (no validation, no
// I/O): ParseDocument and the JSON error descriptions.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ParseDocument decodes a trust policy document the way notation-go v1.3.2
// reads trustpolicy.json: with encoding/json's Decoder, so unknown keys are
// ignored, keys match case-insensitively and anything after the first JSON
// value is ignored. JSON that does not decode into a Document gives an error
// wrapping ErrMalformedPolicy. ParseDocument does not validate; see Compile
// and Lint.
func ParseDocument(data []byte) (*Document, error) {
	doc, err := decodeDocument(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedPolicy, err)
	}
	return doc, nil
}

func decodeDocument(data []byte) (*Document, error) {
	var doc Document
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, describeJSONError(data, err)
	}
	return &doc, nil
}

func describeJSONError(data []byte, err error) error {
	const want = `a trust policy is a JSON object such as {"version": "1.0", "trustPolicies": [...]}`
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("the document is empty; " + want)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("the JSON ends early (truncated document); " + want)
	case errors.As(err, &syn):
		line, col := lineCol(data, syn.Offset)
		return fmt.Errorf("invalid JSON at line %d, column %d: %s; %s", line, col, strings.TrimPrefix(syn.Error(), "json: "), want)
	case errors.As(err, &typ):
		line, col := lineCol(data, typ.Offset)
		field := typ.Field
		if field == "" {
			field = "the document"
		}
		return fmt.Errorf("at line %d, column %d: %s must be a JSON value of Go type %s, not a JSON %s; %s", line, col, field, typ.Type, typ.Value, want)
	}
	return fmt.Errorf("%s; %s", strings.TrimPrefix(err.Error(), "json: "), want)
}

// lineCol converts a byte offset (1-based position after the offending
// byte, as encoding/json reports it) into a 1-based line and column.
func lineCol(data []byte, off int64) (line, col int) {
	if off < 0 {
		off = 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	if col < 1 {
		col = 1
	}
	return line, col
}
