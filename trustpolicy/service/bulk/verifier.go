package bulk

import (
	"context"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
)

// Source is where one reference is verified.
type Source struct {
	// Service verifies it; Client is the registry client under Service
	// (for an image index's platform list).
	Service *service.Service
	Client  *registry.Client
	// Reference is what Service resolves: the input's reference, or for an
	// OCI layout, the trust policy scope with the tag or digest.
	Reference string
}

// Verifier verifies one input at a time through package service. It is
// safe for concurrent use when Open is.
type Verifier struct {
	// Open returns the Source of a reference: the shared registry service
	// for a registry reference, the layout's for oci-layout:....
	Open func(ctx context.Context, ref string) (Source, error)
	// Options are the service's per-call options.
	Options service.Options
	// Platforms, when set, also checks the platform manifests of an image
	// index or Docker manifest list.
	Platforms *Platforms
}

// Verify resolves in's reference, verifies it, and for an index with
// v.Platforms set checks each selected platform manifest. It never
// returns an error: what went wrong is in the Record (a failed verdict).
func (v *Verifier) Verify(ctx context.Context, in Input) Record {
	rec := newRecord(in)
	src, err := v.Open(ctx, in.Reference)
	if err != nil {
		rec.failed(err)
		return rec
	}
	target, err := src.Service.Resolve(ctx, src.Reference)
	if err != nil {
		rec.failed(err)
		return rec
	}
	report, err := src.Service.VerifyTarget(ctx, target, v.Options)
	if err != nil {
		rec.failed(err)
		return rec
	}
	rec.setReport(report)
	if v.Platforms != nil && registry.IsIndex(target.Descriptor.MediaType) {
		v.platforms(ctx, src, target, &rec)
	}
	return rec
}

// platforms checks the platform manifests of the index target and
// decides the record's verdict: the index's when it verified or was
// skipped by policy; otherwise verified only when every selected platform
// is covered by its own verified signature.
func (v *Verifier) platforms(ctx context.Context, src Source, target registry.Target, rec *Record) {
	manifests, err := src.Client.IndexManifests(ctx, target)
	if err != nil {
		rec.failed(err)
		return
	}
	selected, missing := v.Platforms.Select(manifests)
	indexOK := rec.Verdict == trustpolicy.VerdictVerified
	for _, m := range selected {
		rec.Platforms = append(rec.Platforms, v.platform(ctx, src, target, m, indexOK))
	}
	for _, name := range missing {
		rec.Platforms = append(rec.Platforms, Platform{Platform: name, Verdict: trustpolicy.VerdictFailed, CoveredBy: CoveredByNone,
			Error: fmt.Sprintf("the index %s lists no %s manifest", target.Reference, name)})
	}
	if rec.Verdict == trustpolicy.VerdictVerified || rec.Verdict == trustpolicy.VerdictSkipped {
		if len(missing) == 0 {
			return
		}
	}
	var uncovered []string
	verdict := trustpolicy.VerdictVerified
	for _, p := range rec.Platforms {
		if p.Covered() {
			continue
		}
		name := p.Platform
		if p.Digest != "" {
			name += " (" + p.Digest + ")"
		}
		uncovered = append(uncovered, name+": "+p.Error)
		if p.Verdict != trustpolicy.VerdictInconclusive || verdict == trustpolicy.VerdictFailed {
			verdict = trustpolicy.VerdictFailed
		} else {
			verdict = trustpolicy.VerdictInconclusive
		}
	}
	if len(uncovered) == 0 {
		if len(rec.Platforms) == 0 {
			// No platform to cover the index: it stays as it is.
			return
		}
		rec.Verdict, rec.Error = trustpolicy.VerdictVerified, ""
		rec.Brief = cutBrief(fmt.Sprintf("verified: %s: every platform manifest (%d) carries its own verified signature; the index has none",
			textsafe.Escape(rec.Result.Reference), len(rec.Platforms)))
		return
	}
	rec.Verdict = verdict
	rec.Error = "platforms not covered by a verified signature of the index or their own: " + strings.Join(uncovered, "; ")
	rec.Brief = cutBrief(fmt.Sprintf("%s: %s: %d of %d platforms not covered: %s", verdict, textsafe.Escape(rec.Result.Reference),
		len(uncovered), len(rec.Platforms), textsafe.Escape(uncovered[0])))
}

// platform verifies one platform manifest m of the index target.
func (v *Verifier) platform(ctx context.Context, src Source, index registry.Target, m ocispec.Descriptor, indexOK bool) Platform {
	p := Platform{Platform: PlatformString(m.Platform), Digest: m.Digest.String(), CoveredBy: CoveredByNone}
	if indexOK {
		p.CoveredBy = CoveredByIndex
	}
	// The index is content-addressed and was fetched by digest: the
	// descriptor it gives is the platform manifest's, no resolve needed.
	t := registry.Target{
		Reference:  index.Repository + "@" + m.Digest.String(),
		Descriptor: ocispec.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size},
		Repository: index.Repository,
	}
	rep, err := src.Service.VerifyTarget(ctx, t, v.Options)
	if err != nil {
		p.Verdict, p.Error = trustpolicy.VerdictFailed, textsafe.Error(err).Error()
		return p
	}
	p.Verdict, p.Error, p.Result = rep.Verdict, rep.Error, rep
	if rep.Verdict == trustpolicy.VerdictVerified {
		if indexOK {
			p.CoveredBy = CoveredByBoth
		} else {
			p.CoveredBy = CoveredByManifest
		}
	}
	return p
}
