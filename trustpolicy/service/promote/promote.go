// Package promote is a promotion gate: it copies an artifact from one
// repository (staging) to another (production) only when it verifies
// under the trust policy, and then verifies the copy. It is the library
// under `trustpolicy promote SRC DST`.
//
// [Promote]:
//
//  1. resolves SRC once and verifies that digest with package service;
//     anything but verified (failed, inconclusive, skipped by policy)
//     stops it, and nothing is copied;
//  2. copies, with oras-go, the verified digest (never the tag again): the
//     manifest, or the index with its platform manifests, every blob, and
//     then its Notary Project signatures (the referrers whose artifactType
//     is application/vnd.cncf.notary.signature, at most the registry
//     client's signature limit). Every byte read from SRC is checked
//     against its digest and size while it streams to DST, so content
//     altered in SRC after signing is never written; what DST already
//     holds is skipped, so a rerun after an interruption completes the
//     copy;
//  3. verifies DST by digest under the same policy;
//  4. only then tags DST (DST's tag, else SRC's tag), so a tag in DST never
//     names an unverified artifact.
//
// Both repositories are reached through the one registry client (package
// trustpolicy/registry): its connections, tokens and credentials, which
// are per registry host (the docker configuration's).
//
// The package never prints.
package promote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	orasregistry "oras.land/oras-go/v2/registry"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
)

// Schema is the JSON schema of a Result.
const Schema = "notation-pkcs11/trustpolicy/promote/v1"

// Errors of Promote, wrapped by its error when they apply.
var (
	// ErrNotVerified: SRC (or the copy in DST) did not verify; nothing was
	// promoted.
	ErrNotVerified = errors.New("not verified")
	// ErrCopy: the copy failed part way; rerun to complete it.
	ErrCopy = errors.New("copy failed")
	// ErrInvalidDestination: DST is not REGISTRY/REPO[:TAG], or names
	// another digest than SRC's.
	ErrInvalidDestination = errors.New("invalid destination")
	// ErrTampered: SRC served content that does not match its digest
	// (altered after it was signed); it was not written to DST. It comes
	// with ErrCopy.
	ErrTampered = errors.New("content does not match its digest")
)

// Config is what Promote works with.
type Config struct {
	// Service verifies SRC and DST; Client is the registry client under
	// it, which reaches both repositories.
	Service *service.Service
	Client  *registry.Client
	// Options are the service's per-call options.
	Options service.Options
	// MaxSignatures caps the signatures copied (default
	// registry.DefaultMaxSignatures).
	MaxSignatures int
	// Concurrency is oras-go's copy concurrency (default 3).
	Concurrency int
}

// Copied counts what the copy wrote and what DST already had.
type Copied struct {
	Manifests  int `json:"manifests"`
	Blobs      int `json:"blobs"`
	Signatures int `json:"signatures"`
	// Existing counts nodes DST already held (a rerun skips them).
	Existing int `json:"existing"`
}

// Result is what a promotion did.
type Result struct {
	Schema      string `json:"schema"`
	Source      string `json:"source"`
	Destination string `json:"destination"`
	// Digest is the artifact's, the same in both repositories.
	Digest string `json:"digest,omitempty"`
	// Tag is the tag set in DST, "" when none.
	Tag string `json:"tag,omitempty"`
	// Promoted: verified in SRC, copied, verified in DST and tagged.
	Promoted bool   `json:"promoted"`
	Copied   Copied `json:"copied"`
	// Error says why it was not promoted.
	Error string `json:"error,omitempty"`
	// SourceReport and DestinationReport are the verifications.
	SourceReport      *trustpolicy.Report `json:"sourceReport,omitempty"`
	DestinationReport *trustpolicy.Report `json:"destinationReport,omitempty"`
}

// ParseDestination parses DST: REGISTRY/REPO, REGISTRY/REPO:TAG or
// REGISTRY/REPO@DIGEST, and returns its repository, tag and digest.
func ParseDestination(dst string) (repo, tag, dgst string, err error) {
	r, err := orasregistry.ParseReference(dst)
	if err != nil {
		return "", "", "", fmt.Errorf("%w %q: %w; want REGISTRY/REPO[:TAG]", ErrInvalidDestination, dst, err)
	}
	if _, err := registry.ParseReference(r.Registry + "/" + r.Repository + ":x"); err != nil {
		return "", "", "", fmt.Errorf("%w %q: %w", ErrInvalidDestination, dst, err)
	}
	repo = r.Registry + "/" + r.Repository
	if d, err := r.Digest(); err == nil {
		return repo, "", d.String(), nil
	}
	return repo, r.Reference, "", nil
}

// Promote promotes src to dst (see the package documentation). The
// Result is always returned; the error is non-nil when the artifact was
// not promoted, and wraps ErrNotVerified, ErrCopy or
// ErrInvalidDestination where they apply (or the registry client's
// errors, when SRC cannot be resolved).
func Promote(ctx context.Context, src, dst string, cfg Config) (*Result, error) {
	res := &Result{Schema: Schema, Source: src, Destination: dst}
	fail := func(err error) (*Result, error) {
		res.Error = textsafe.Error(err).Error()
		return res, err
	}
	dstRepo, dstTag, dstDigest, err := ParseDestination(dst)
	if err != nil {
		return fail(err)
	}
	target, err := cfg.Service.Resolve(ctx, src)
	if err != nil {
		return fail(err)
	}
	res.Digest = target.Descriptor.Digest.String()
	if dstDigest != "" && dstDigest != res.Digest {
		return fail(fmt.Errorf("%w: %s names %s, but %s is %s", ErrInvalidDestination, dst, dstDigest, src, res.Digest))
	}
	if dstTag == "" {
		dstTag = target.Tag
	}
	rep, err := cfg.Service.VerifyTarget(ctx, target, cfg.Options)
	if err != nil {
		return fail(err)
	}
	res.SourceReport = rep
	if rep.Verdict != trustpolicy.VerdictVerified {
		return fail(fmt.Errorf("%w: %s did not verify (%s), so nothing was copied: %s", ErrNotVerified, target.Reference, rep.Verdict, rep.Error))
	}
	res.Destination = dstRepo + "@" + res.Digest
	if err := copyArtifact(ctx, cfg, target, dstRepo, &res.Copied); err != nil {
		return fail(err)
	}
	dtarget := registry.Target{Reference: res.Destination, Descriptor: target.Descriptor, Repository: dstRepo}
	drep, err := cfg.Service.VerifyTarget(ctx, dtarget, cfg.Options)
	if err != nil {
		return fail(err)
	}
	res.DestinationReport = drep
	if drep.Verdict != trustpolicy.VerdictVerified {
		return fail(fmt.Errorf("%w: the copy %s did not verify (%s), so it was not tagged: %s", ErrNotVerified, res.Destination, drep.Verdict, drep.Error))
	}
	if dstTag != "" {
		repo, err := cfg.Client.Repository(dstRepo)
		if err != nil {
			return fail(err)
		}
		if err := repo.Tag(ctx, target.Descriptor, dstTag); err != nil {
			return fail(fmt.Errorf("%w: %w", ErrCopy, cfg.Client.Describe(err, "tag "+dstRepo+":"+dstTag, dstRepo)))
		}
		res.Tag = dstTag
		res.Destination = dstRepo + ":" + dstTag
	}
	res.Promoted = true
	return res, nil
}

// copyArtifact copies the artifact's graph, then its signatures.
func copyArtifact(ctx context.Context, cfg Config, target registry.Target, dstRepo string, n *Copied) error {
	srcRepo, err := cfg.Client.Repository(target.Repository)
	if err != nil {
		return err
	}
	to, err := cfg.Client.Repository(dstRepo)
	if err != nil {
		return err
	}
	desc := target.Descriptor
	var manifests, blobs, sigs, existing atomic.Int32
	var signaturePhase atomic.Bool
	opts := oras.CopyGraphOptions{
		Concurrency: cfg.Concurrency,
		PostCopy: func(_ context.Context, d ocispec.Descriptor) error {
			switch {
			case d.ArtifactType == registry.ArtifactTypeNotation:
				sigs.Add(1)
			case isManifest(d.MediaType):
				manifests.Add(1)
			default:
				blobs.Add(1)
			}
			return nil
		},
		OnCopySkipped: func(_ context.Context, d ocispec.Descriptor) error {
			// A signature's subject is the artifact just copied.
			if !signaturePhase.Load() || d.Digest != desc.Digest {
				existing.Add(1)
			}
			return nil
		},
	}
	from := checked{srcRepo}
	if err := oras.CopyGraph(ctx, from, to, desc, opts); err != nil {
		return copyError(cfg, err, target.Reference, dstRepo)
	}
	list, err := signatures(ctx, srcRepo, desc, cfg.MaxSignatures)
	if err != nil {
		return fmt.Errorf("%w: listing the signatures of %s: %w (rerun to complete it)", ErrCopy, target.Reference, cfg.Client.Describe(err, "list signatures", target.Repository))
	}
	signaturePhase.Store(true)
	for _, s := range list {
		if err := oras.CopyGraph(ctx, from, to, s, opts); err != nil {
			return copyError(cfg, err, "signature "+s.Digest.String()+" of "+target.Reference, dstRepo)
		}
	}
	n.Manifests, n.Blobs, n.Signatures, n.Existing = int(manifests.Load()), int(blobs.Load()), int(sigs.Load()), int(existing.Load())
	return nil
}

// copyError words a failed copy of what to dstRepo.
func copyError(cfg Config, err error, what, dstRepo string) error {
	if errors.Is(err, content.ErrMismatchedDigest) || errors.Is(err, content.ErrTrailingData) {
		return fmt.Errorf("%w: %w: copying %s to %s: the source served content that does not match its digest, so it was altered after signing; nothing of it was written to %s: %w",
			ErrCopy, ErrTampered, what, dstRepo, dstRepo, err)
	}
	return fmt.Errorf("%w: %s to %s: %w (rerun to complete it: what was copied is kept)", ErrCopy, what, dstRepo, cfg.Client.Describe(err, "copy", dstRepo))
}

// signatures lists the Notary Project signature manifests of desc, at most
// limit.
func signatures(ctx context.Context, repo orasregistry.ReferrerLister, desc ocispec.Descriptor, limit int) ([]ocispec.Descriptor, error) {
	if limit <= 0 {
		limit = registry.DefaultMaxSignatures
	}
	var out []ocispec.Descriptor
	errEnough := errors.New("enough")
	err := repo.Referrers(ctx, desc, registry.ArtifactTypeNotation, func(page []ocispec.Descriptor) error {
		for _, d := range page {
			if d.ArtifactType != registry.ArtifactTypeNotation {
				continue
			}
			if len(out) == limit {
				return errEnough
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, err
	}
	return out, nil
}

func isManifest(mt string) bool {
	switch mt {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex, registry.MediaTypeDockerManifestList,
		registry.MediaTypeArtifactManifest, "application/vnd.docker.distribution.manifest.v2+json":
		return true
	}
	return false
}

// checked reads SRC with every fetch checked against its descriptor's
// digest and size as it streams: a mismatch is an error of the read,
// which fails the push to DST before anything is committed there.
type checked struct{ content.ReadOnlyStorage }

func (c checked) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	rc, err := c.ReadOnlyStorage.Fetch(ctx, d)
	if err != nil {
		return nil, err
	}
	return &checkedReader{vr: content.NewVerifyReader(rc, d), Closer: rc}, nil
}

type checkedReader struct {
	vr *content.VerifyReader
	io.Closer
}

func (r *checkedReader) Read(p []byte) (int, error) {
	n, err := r.vr.Read(p)
	if errors.Is(err, io.EOF) {
		if verr := r.vr.Verify(); verr != nil {
			return n, verr
		}
	}
	return n, err
}
