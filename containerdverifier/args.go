package containerdverifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
)

// DescriptorMediaType is the one -stdin-media-type containerd passes: the
// image's OCI descriptor as JSON on stdin.
const DescriptorMediaType = ocispec.MediaTypeDescriptor

// MaxDescriptorBytes caps the descriptor read from stdin. containerd
// writes one JSON descriptor, a few hundred bytes.
const MaxDescriptorBytes = 64 << 10

// The protocol's flags, as containerd's bindir verifier passes them.
const (
	FlagName           = "name"
	FlagDigest         = "digest"
	FlagStdinMediaType = "stdin-media-type"
)

// IsProtocol reports whether args are containerd's invocation rather than
// a command for people: the first argument is one of the protocol's flags
// (containerd passes -name first).
func IsProtocol(args []string) bool {
	if len(args) == 0 {
		return false
	}
	a := strings.TrimPrefix(strings.TrimPrefix(args[0], "-"), "-")
	if i := strings.IndexByte(a, '='); i >= 0 {
		a = a[:i]
	}
	return strings.HasPrefix(args[0], "-") && (a == FlagName || a == FlagDigest || a == FlagStdinMediaType)
}

// ErrInvocation is wrapped by every error about the invocation: the
// arguments and the descriptor on stdin.
var ErrInvocation = errors.New("bad invocation")

// Invocation is what containerd asks: may the image Name, whose manifest
// is Digest, be pulled?
type Invocation struct {
	Name           string
	Digest         digest.Digest
	StdinMediaType string
}

func invocationErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvocation, fmt.Sprintf(format, a...))
}

// ParseArgs parses containerd's arguments: -name REF -digest DIGEST
// -stdin-media-type application/vnd.oci.descriptor.v1+json, in Go's flag
// syntax (-flag value or -flag=value, one or two dashes). All three are
// required, each once, and nothing else may be given.
func ParseArgs(args []string) (Invocation, error) {
	fs := flag.NewFlagSet(CommandName, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var inv Invocation
	var dgst string
	seen := map[string]int{}
	fs.Func(FlagName, "image name", func(s string) error { seen[FlagName]++; inv.Name = s; return nil })
	fs.Func(FlagDigest, "manifest digest", func(s string) error { seen[FlagDigest]++; dgst = s; return nil })
	fs.Func(FlagStdinMediaType, "media type of stdin", func(s string) error { seen[FlagStdinMediaType]++; inv.StdinMediaType = s; return nil })
	if err := fs.Parse(args); err != nil {
		return Invocation{}, invocationErr("%s", textsafe.Escape(err.Error()))
	}
	if fs.NArg() > 0 {
		return Invocation{}, invocationErr("unexpected argument %s", quote(fs.Arg(0)))
	}
	for _, f := range []string{FlagName, FlagDigest, FlagStdinMediaType} {
		switch seen[f] {
		case 0:
			return Invocation{}, invocationErr("-%s is missing", f)
		case 1:
		default:
			return Invocation{}, invocationErr("-%s is given %d times", f, seen[f])
		}
	}
	if inv.Name == "" {
		return Invocation{}, invocationErr("-name is empty")
	}
	d, err := digest.Parse(dgst)
	if err != nil {
		return Invocation{}, invocationErr("-digest %s: %v", quote(dgst), err)
	}
	inv.Digest = d
	if inv.StdinMediaType != DescriptorMediaType {
		return Invocation{}, invocationErr("-stdin-media-type %s: only %s is understood", quote(inv.StdinMediaType), DescriptorMediaType)
	}
	return inv, nil
}

// Reference is REGISTRY/REPOSITORY@DIGEST of the invocation: the
// repository of Name with the digest containerd gives, never a tag
// resolution. A Name that names another digest is an error.
func (inv Invocation) Reference() (string, error) {
	name := inv.Name
	if !strings.Contains(name, "@") {
		name += "@" + inv.Digest.String()
	}
	r, err := registry.ParseReference(name)
	if err != nil {
		return "", invocationErr("-name %s: %v", quote(inv.Name), err)
	}
	if r.Digest != inv.Digest {
		return "", invocationErr("-name %s names digest %s, but -digest is %s", quote(inv.Name), r.Digest, inv.Digest)
	}
	return r.Repository + "@" + inv.Digest.String(), nil
}

// ReadDescriptor reads the descriptor containerd writes on stdin: at most
// MaxDescriptorBytes, one JSON object and white space. Empty stdin is
// accepted (nil): the descriptor may be ignored. A descriptor that is
// present must name want as its digest.
func ReadDescriptor(r io.Reader, want digest.Digest) (*ocispec.Descriptor, error) {
	if r == nil {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxDescriptorBytes+1))
	if err != nil {
		return nil, invocationErr("reading the descriptor on stdin: %v", err)
	}
	if len(data) > MaxDescriptorBytes {
		return nil, invocationErr("the descriptor on stdin is larger than %d bytes", MaxDescriptorBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var desc ocispec.Descriptor
	if err := dec.Decode(&desc); err != nil {
		return nil, invocationErr("the descriptor on stdin is not an OCI descriptor in JSON: %s", textsafe.Escape(err.Error()))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invocationErr("data after the descriptor on stdin")
	}
	if desc.Digest != want {
		return nil, invocationErr("the descriptor on stdin names digest %s, but -digest is %s", quote(string(desc.Digest)), want)
	}
	return &desc, nil
}
