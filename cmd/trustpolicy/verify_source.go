package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
)

// maxLocalFile caps the local signature and descriptor files.
const maxLocalFile = 4 << 20

// verifyLocal verifies an envelope from a file against a descriptor from a
// file, with no network. The reference must name the descriptor: a digest
// reference whose digest differs is bad input; a tag reference is taken to
// resolve to the descriptor, and the descriptor's digest is what is
// verified.
func verifyLocal(ctx context.Context, engine *trustpolicy.Engine, f verifyFlags, e env) (*trustpolicy.Report, error) {
	envelope, err := readCapped(f.signature, "--signature")
	if err != nil {
		return nil, err
	}
	raw, err := readCapped(f.descriptor, "--descriptor")
	if err != nil {
		return nil, err
	}
	var desc ocispec.Descriptor
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&desc); err != nil {
		return nil, badInput("--descriptor %s: not an OCI descriptor in JSON: %v", f.descriptor, err)
	}
	svc, err := service.New(service.Config{Engine: engine, Now: e.now})
	if err != nil {
		return nil, err
	}
	report, err := svc.VerifyEnvelope(ctx, service.Envelope{Data: envelope, MediaType: f.mediaType, Descriptor: desc, Reference: f.reference},
		service.Options{UserMetadata: f.metadata})
	return report, inputFlags(err, f)
}

// inputFlags words the service's bad-input errors by the flags they are
// about; they are usage errors (exit 2).
func inputFlags(err error, f verifyFlags) error {
	var ie *service.InputError
	if !errors.As(err, &ie) {
		return err
	}
	switch ie.Field {
	case service.FieldDescriptor:
		return badInput("--descriptor %s: %w", f.descriptor, err)
	case service.FieldSubject:
		return badInput("--reference and --descriptor %s: %w", f.descriptor, err)
	case service.FieldReference:
		if f.reference != "" {
			return badInput("--reference: %w", err)
		}
	case service.FieldOptions:
		return badInput("--max-signatures: %w", err)
	}
	return usageError{err}
}

// readCapped reads a regular file of at most maxLocalFile bytes.
func readCapped(path, flagName string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, badInput("%s: %v", flagName, err)
	}
	defer fh.Close()
	if st, err := fh.Stat(); err != nil {
		return nil, badInput("%s %s: %v", flagName, path, err)
	} else if !st.Mode().IsRegular() {
		return nil, badInput("%s %s: not a regular file", flagName, path)
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxLocalFile+1))
	if err != nil {
		return nil, badInput("%s %s: %v", flagName, path, err)
	}
	if len(data) > maxLocalFile {
		return nil, badInput("%s %s: larger than %d bytes", flagName, path, maxLocalFile)
	}
	return data, nil
}

// verifyRemote resolves ref in its registry (or OCI layout) and verifies
// its signatures, stopping at the first that verifies, as notation does.
func verifyRemote(ctx context.Context, engine *trustpolicy.Engine, ref string, f verifyFlags, e env) (*trustpolicy.Report, error) {
	if registry.IsLayoutReference(ref) {
		if err := checkReference(ref, f.scope); err != nil {
			return nil, badInput("%s: %w", ref, err)
		}
	}
	src, err := newSources(engine, e, registryOptions(f), f.scope)
	if err != nil {
		return nil, err
	}
	s, err := src.open(ctx, ref)
	if errors.Is(err, registry.ErrInvalidLayout) {
		return nil, usageError{err} // a missing or unreadable layout: bad input
	}
	if err != nil {
		return nil, err
	}
	report, err := s.Service.Verify(ctx, s.Reference, service.Options{UserMetadata: f.metadata, MaxSignatures: f.maxSignatures})
	return report, inputFlags(err, f)
}

// registryOptions are the registry client's options from the flags.
func registryOptions(f verifyFlags) registry.Options {
	return registry.Options{PlainHTTP: f.plainHTTP, MaxSignatures: f.maxSignatures}
}
