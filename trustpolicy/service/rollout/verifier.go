package rollout

import (
	"context"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/bulk"
)

// Verifier verifies one input under the current and the candidate
// policy, with package bulk's Verifier for each.
type Verifier struct {
	// Open returns the sources of ref under each policy. They should share
	// one registry client made for this artifact with
	// registry.Client.WithCache, so that the artifact is fetched once.
	Open func(ctx context.Context, ref string) (current, candidate bulk.Source, err error)
	// Options and Platforms are bulk.Verifier's.
	Options   service.Options
	Platforms *bulk.Platforms
}

// Verify verifies in under both policies, current first.
func (v *Verifier) Verify(ctx context.Context, in bulk.Input) Outcome {
	cur, cand, err := v.Open(ctx, in.Reference)
	with := func(s bulk.Source) *bulk.Verifier {
		return &bulk.Verifier{
			Open:      func(context.Context, string) (bulk.Source, error) { return s, err },
			Options:   v.Options,
			Platforms: v.Platforms,
		}
	}
	return Outcome{Current: with(cur).Verify(ctx, in), Candidate: with(cand).Verify(ctx, in)}
}
