package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"
)

// maxRequest caps a request read from stdin. Payloads are a JWS signing
// input or a COSE Sig_structure: kilobytes, not megabytes.
const maxRequest = 16 << 20

// Commands lists the protocol commands Run answers.
func Commands() []proto.Command {
	return []proto.Command{proto.CommandGetMetadata, proto.CommandDescribeKey, proto.CommandGenerateSignature, proto.CommandGenerateEnvelope, proto.CommandVerifySignature}
}

// IsCommand reports whether name is a protocol command.
func IsCommand(name string) bool {
	for _, c := range Commands() {
		if string(c) == name {
			return true
		}
	}
	return false
}

// Run answers one protocol command: the request is read from stdin, the
// response written to stdout and 0 returned; on failure only the JSON error
// object goes to stderr and 1 is returned.
func (p *Plugin) Run(ctx context.Context, command string, stdin io.Reader, stdout, stderr io.Writer) int {
	resp, err := p.dispatch(ctx, command, stdin)
	if err == nil {
		var b []byte
		if b, err = json.Marshal(resp); err == nil {
			if _, err = stdout.Write(b); err == nil {
				return 0
			}
		}
	}
	b, merr := json.Marshal(ToProtocolError(err))
	if merr != nil {
		b = []byte(`{"errorCode":"ERROR","errorMessage":"failed to encode the error"}`)
	}
	_, _ = stderr.Write(b)
	return 1
}

func (p *Plugin) dispatch(ctx context.Context, command string, stdin io.Reader) (any, error) {
	switch proto.Command(command) {
	case proto.CommandGetMetadata:
		// Read and ignore: install sends {}, and metadata never fails.
		_, _ = io.Copy(io.Discard, io.LimitReader(stdin, maxRequest))
		return p.GetMetadata(ctx, &proto.GetMetadataRequest{})
	case proto.CommandDescribeKey:
		var req proto.DescribeKeyRequest
		if err := decode(stdin, &req); err != nil {
			return nil, err
		}
		return p.DescribeKey(ctx, &req)
	case proto.CommandGenerateSignature:
		var req proto.GenerateSignatureRequest
		if err := decode(stdin, &req); err != nil {
			return nil, err
		}
		return p.GenerateSignature(ctx, &req)
	case proto.CommandGenerateEnvelope:
		return p.GenerateEnvelope(ctx, nil)
	case proto.CommandVerifySignature:
		return p.VerifySignature(ctx, nil)
	}
	return nil, fmt.Errorf("%w: %q is not a plugin protocol command; notation calls get-plugin-metadata, describe-key and generate-signature", ErrUnsupported, command)
}

type validator interface{ Validate() error }

// decode reads exactly one JSON request object from r: after it only
// white space may follow, up to the end of the input, and the whole input
// is capped at maxRequest bytes.
func decode(r io.Reader, req validator) error {
	lr := &io.LimitedReader{R: r, N: maxRequest + 1}
	dec := json.NewDecoder(lr)
	err := dec.Decode(req)
	var rest []byte
	if err == nil {
		rest, err = io.ReadAll(io.MultiReader(dec.Buffered(), lr))
	}
	if lr.N <= 0 {
		return fmt.Errorf("%w: the request is larger than %d bytes", ErrRequest, maxRequest)
	}
	if err != nil {
		return fmt.Errorf("%w: the request on stdin is not valid JSON: %w", ErrRequest, err)
	}
	if extra := bytes.TrimLeft(rest, " \t\r\n"); len(extra) > 0 {
		return fmt.Errorf("%w: the request's JSON object is followed by %s (%d bytes); send exactly one JSON object on stdin", ErrRequest, trailingKind(extra), len(extra))
	}
	if err := req.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrRequest, err)
	}
	return nil
}

// trailingKind names what follows a request without repeating it.
func trailingKind(b []byte) string {
	switch c := b[0]; {
	case c == '{':
		return "a second JSON object"
	case c == '[':
		return "a JSON array"
	case c == '"':
		return "a JSON string"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	case c < 0x20 || c == 0x7f:
		return "control characters"
	}
	return "other text"
}
