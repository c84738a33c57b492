package difftest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// mutationsPerBase is how many mutated envelopes each base envelope yields.
const mutationsPerBase = 60

// TestMutatedEnvelopes is a randomized differential test with a fixed seed:
// it damages envelope bytes (bit flips, truncations, deletions,
// duplications, byte overwrites, and bit flips inside the decoded members of
// a JWS, where they survive JSON parsing) and requires notation and our
// engine to agree on the verdict and every check, and our engine never to
// panic.
func TestMutatedEnvelopes(t *testing.T) {
	bases := []*tcase{
		{group: "mutation", sig: sigSpec{mt: mtJWS, kt: "ec-256", ts: tsGood}},
		{group: "mutation", sig: sigSpec{mt: mtCOSE, kt: "ec-256", ts: tsGood}},
		{group: "mutation", sig: sigSpec{mt: mtJWS, kt: "rsa-3072", meta: true}},
		{group: "mutation", sig: sigSpec{mt: mtCOSE, kt: "rsa-3072", meta: true}},
		{group: "mutation", sig: sigSpec{mt: mtJWS, kt: "ec-384", scheme: saScheme, expiry: expiryFuture}},
		{group: "mutation", sig: sigSpec{mt: mtCOSE, kt: "ec-384", scheme: saScheme, expiry: expiryFuture}},
		{group: "mutation", sig: sigSpec{mt: mtJWS, kt: "ec-256", chain: chainExpired, ts: tsGood}},
		{group: "mutation", sig: sigSpec{mt: mtCOSE, kt: "ec-256", chain: chainExpired, ts: tsGood}},
	}
	policies := []stmtSpec{
		withStores(main("strict"), "ca:roots", "signingAuthority:sa", "tsa:tsa"),
		withStores(main("audit"), "ca:roots", "signingAuthority:sa", "tsa:tsa"),
		withStores(main("permissive"), "ca:roots", "signingAuthority:sa"),
	}
	rng := rand.New(rand.NewPCG(0x6e6f7461, 0x74696f6e)) // fixed seed: "nota", "tion"
	ctx := context.Background()
	tl := newTally()
	verdicts := map[string]int{}
	var vmu sync.Mutex
	kinds := map[string]int{}
	type mutated struct {
		c   tcase
		raw []byte
	}
	// The mutations are drawn in a fixed order, then verified in parallel.
	var all []mutated
	for bi, base := range bases {
		base.sig.scheme = or2(base.sig.scheme, x509Scheme)
		base.sig.chain = chainKind(or(string(base.sig.chain), string(chainFull)))
		env := signed(t, base.sig)
		for i := 0; i < mutationsPerBase; i++ {
			c := *base
			c.stmts = []stmtSpec{policies[(bi+i)%len(policies)]}
			if c.sig.meta {
				c.meta = metaMatch
			}
			raw, kind := mutate(rng, c.sig.mt, env.raw)
			kinds[kind]++
			c.name = fmt.Sprintf("%s#%03d-%s", c.sig, i, kind)
			all = append(all, mutated{c, raw})
		}
	}
	n := len(all)
	t.Run("mutation", func(t *testing.T) {
		for _, m := range all {
			t.Run(m.c.name, func(t *testing.T) {
				t.Parallel()
				c := m.c
				in := c.build(t)
				in.envelope = m.raw
				o := runOracle(ctx, in)
				u := runOurs(ctx, in)
				for _, d := range compareResults(&c, in, o, u, tl) {
					t.Error(d)
				}
				vmu.Lock()
				verdicts[o.verdict]++
				vmu.Unlock()
				if t.Failed() {
					t.Logf("notation: %s", describeOracle(o))
					t.Logf("ours:     %s", describeOurs(u))
				}
			})
		}
	})
	t.Logf("%d mutated envelopes; mutations %v; notation verdicts %v\n%s", n, kinds, verdicts, tl.report())
}

func or2[T ~string](v, def T) T {
	if v == "" {
		return def
	}
	return v
}

// mutate damages raw and names what it did.
func mutate(rng *rand.Rand, mt string, raw []byte) ([]byte, string) {
	out := slices.Clone(raw)
	switch k := rng.IntN(7); k {
	case 0:
		for j := rng.IntN(4); j >= 0; j-- {
			p := rng.IntN(len(out))
			out[p] ^= 1 << rng.IntN(8)
		}
		return out, "bitFlips"
	case 1:
		return out[:rng.IntN(len(out))], "truncate"
	case 2:
		a := rng.IntN(len(out))
		b := a + 1 + rng.IntN(min(64, len(out)-a))
		return append(out[:a:a], out[b:]...), "delete"
	case 3:
		a := rng.IntN(len(out))
		b := a + 1 + rng.IntN(min(64, len(out)-a))
		return slices.Concat(out[:b], out[a:b], out[b:]), "duplicate"
	case 4:
		out[rng.IntN(len(out))] = byte(rng.IntN(256))
		return out, "overwrite"
	default:
		if mt == mtJWS {
			if m, ok := mutateJWSMember(rng, raw); ok {
				return m, "jwsMember"
			}
		}
		// The tail of a COSE message holds the unprotected header's
		// certificates and token and the signature: flip a bit there.
		tail := max(1, len(out)/3)
		out[len(out)-1-rng.IntN(tail)] ^= 1 << rng.IntN(8)
		return out, "tailBitFlip"
	}
}

// mutateJWSMember flips a bit inside the decoded bytes of one member of a
// JWS (protected header, payload, signature, a certificate, the timestamp
// token) and re-encodes it, so the envelope still parses as JSON.
func mutateJWSMember(rng *rand.Rand, raw []byte) ([]byte, bool) {
	var env map[string]any
	if json.Unmarshal(raw, &env) != nil {
		return nil, false
	}
	flip := func(b []byte) []byte {
		if len(b) == 0 {
			return b
		}
		b[rng.IntN(len(b))] ^= 1 << rng.IntN(8)
		return b
	}
	hdr, _ := env["header"].(map[string]any)
	switch rng.IntN(5) {
	case 0, 1, 2:
		member := []string{"protected", "payload", "signature"}[rng.IntN(3)]
		s, _ := env[member].(string)
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return nil, false
		}
		env[member] = base64.RawURLEncoding.EncodeToString(flip(b))
	case 3:
		certs, _ := hdr["x5c"].([]any)
		if len(certs) == 0 {
			return nil, false
		}
		i := rng.IntN(len(certs))
		s, _ := certs[i].(string)
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, false
		}
		certs[i] = base64.StdEncoding.EncodeToString(flip(b))
	default:
		s, _ := hdr["io.cncf.notary.timestampSignature"].(string)
		if s == "" {
			return nil, false
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, false
		}
		hdr["io.cncf.notary.timestampSignature"] = base64.StdEncoding.EncodeToString(flip(b))
	}
	out, err := json.Marshal(env)
	return out, err == nil
}
