package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
)

// maxLocalFile caps the local signature and descriptor files.
const maxLocalFile = 4 << 20

// verifyLocal verifies an envelope from a file against a descriptor from a
// file. The reference must name the descriptor: a digest reference whose
// digest differs is bad input; a tag reference is taken to resolve to the
// descriptor, and the descriptor's digest is what is verified.
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
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&desc); err != nil {
		return nil, badInput("--descriptor %s: not an OCI descriptor in JSON: %v", f.descriptor, err)
	}
	ref, tag, err := trustpolicy.SubjectReference(f.reference, desc)
	switch {
	case errors.Is(err, trustpolicy.ErrInvalidDescriptor):
		return nil, badInput("--descriptor %s: %w", f.descriptor, err)
	case err != nil:
		return nil, badInput("--reference and --descriptor %s: %w", f.descriptor, err)
	}
	report := &trustpolicy.Report{Reference: ref, Tag: tag}
	if tag != "" {
		report.Warn(trustpolicy.TagWarning(tag))
	}
	if _, _, err := engine.Select(ref); err != nil && !errors.Is(err, trustpolicy.ErrNoApplicablePolicy) {
		return nil, usageError{fmt.Errorf("--reference: %w", err)}
	}
	res := engine.Evaluate(ctx, trustpolicy.Input{
		Reference:    ref,
		Descriptor:   desc,
		Envelope:     envelope,
		MediaType:    f.mediaType,
		UserMetadata: f.metadata,
		Now:          e.now(),
	})
	report.Add("", res)
	report.Finish(nil)
	return report, nil
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

// verifyRemote resolves ref in its registry and verifies its signatures,
// stopping at the first that verifies, as notation does.
func verifyRemote(ctx context.Context, engine *trustpolicy.Engine, ref string, f verifyFlags, e env) (*trustpolicy.Report, error) {
	client, err := registry.New(registry.Options{PlainHTTP: f.plainHTTP, MaxSignatures: f.maxSignatures})
	if err != nil {
		return nil, err
	}
	target, err := client.Resolve(ctx, ref)
	if err != nil {
		if errors.Is(err, registry.ErrInvalidReference) {
			return nil, usageError{err}
		}
		return nil, err
	}
	// The registry's answer must be the artifact the reference names (the
	// registry client checks this too; the CLI does not rely on it).
	if err := trustpolicy.CheckSubject(ref, target.Descriptor); err != nil {
		return nil, fmt.Errorf("the registry's answer for %s: %w", ref, err)
	}
	if err := trustpolicy.CheckSubject(target.Reference, target.Descriptor); err != nil {
		return nil, fmt.Errorf("the registry's answer for %s: %w", ref, err)
	}
	report := &trustpolicy.Report{Reference: target.Reference, Tag: target.Tag}
	if target.Tag != "" {
		report.Warn(trustpolicy.TagWarning(target.Tag))
	}
	// As notation: the policy is chosen (and a skip honoured) before any
	// signature is fetched.
	rule, match, err := engine.Select(target.Reference)
	if err != nil {
		if errors.Is(err, trustpolicy.ErrNoApplicablePolicy) {
			report.Error = err.Error()
			report.Fix = fmt.Sprintf("add a trust policy statement whose registryScopes lists %q, or one with registryScopes [\"*\"]", target.Repository)
			report.Finish(nil)
			return report, nil
		}
		return nil, usageError{err}
	}
	report.Policy = match
	if rule.Level == trustpolicy.LevelSkip {
		report.Add("", engine.Evaluate(ctx, trustpolicy.Input{Reference: target.Reference, Now: e.now()}))
		report.Finish(nil)
		return report, nil
	}
	var abort error
	err = client.Signatures(ctx, target, func(s registry.Signature) bool {
		if s.Err != nil {
			abort = fmt.Errorf("unable to retrieve digital signature with digest %q associated with %q from the registry: %w", s.Descriptor.Digest, target.Reference, s.Err)
			return true
		}
		res := engine.Evaluate(ctx, trustpolicy.Input{
			Reference:    target.Reference,
			Descriptor:   target.Descriptor,
			Envelope:     s.Envelope,
			MediaType:    s.MediaType,
			UserMetadata: f.metadata,
			Now:          e.now(),
		})
		return report.Add(s.Descriptor.Digest.String(), res)
	})
	if err != nil && !errors.Is(err, registry.ErrNoSignatures) {
		abort = err
	}
	report.Finish(abort)
	return report, nil
}
