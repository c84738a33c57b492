package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// verdictError is the ItemValue verdict of a key for which nothing could be
// decided.
const verdictError = "error"

// answerKeys answers every key of a request, each distinct key once and
// at most keyParallelism at a time, in request order.
func (s *Server) answerKeys(ctx context.Context, g *generation, keys []string) []*answer {
	distinct := map[string]*answer{}
	var order []string
	for _, k := range keys {
		if _, ok := distinct[k]; !ok {
			distinct[k] = nil
			order = append(order, k)
		}
	}
	answers := make([]*answer, len(order))
	var wg sync.WaitGroup
	sem := make(chan struct{}, keyParallelism)
	for i, k := range order {
		if a := s.cached(g, k); a != nil { // no goroutine for a cached digest
			answers[i] = a
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			answers[i] = s.answerKey(ctx, g, k)
		}()
	}
	wg.Wait()
	for i, k := range order {
		distinct[k] = answers[i]
	}
	out := make([]*answer, len(keys))
	for i, k := range keys {
		out[i] = distinct[k]
		s.m.keys.WithLabelValues(out[i].verdict).Inc()
	}
	return out
}

// cached is the cached answer for a key by digest, found without parsing
// the reference again, or nil.
func (s *Server) cached(g *generation, key string) *answer {
	k, byDigest, err := normalizeKey(key)
	if err != nil || !byDigest {
		return nil
	}
	a, ok := s.cache.lookup(cacheKey{ref: k.Reference, gen: g.n}, s.cfg.Now())
	if !ok {
		return nil
	}
	s.m.verdictCache.WithLabelValues("hit").Inc()
	s.m.registry.WithLabelValues("hit").Inc()
	return a
}

// answerKey answers one key: parse it, resolve a tag to its digest, then
// the verdict of REGISTRY/REPOSITORY@DIGEST from the cache or from a
// verification.
func (s *Server) answerKey(ctx context.Context, g *generation, key string) (a *answer) {
	k, err := ParseKey(key)
	if err != nil {
		return errorAnswer(key, "", err)
	}
	ref := k.Reference
	if k.Digest == "" {
		s.m.registry.WithLabelValues("miss").Inc()
		target, err := s.cfg.Registry.Resolve(ctx, ref)
		if err != nil {
			return errorAnswer(key, "", fmt.Errorf("resolving %s: %w", ref, err))
		}
		ref = target.Reference
	}
	hit := false
	a, hit, err = s.cache.do(ctx, cacheKey{ref: ref, gen: g.n}, s.cfg.Now, func() (*answer, time.Time) {
		return s.verify(ctx, g, ref)
	})
	switch {
	case err != nil:
		return errorAnswer(key, ref, fmt.Errorf("no verdict within the %s deadline (the verification goes on and the next request gets its verdict): %w", s.cfg.Timeout, err))
	case hit:
		s.m.verdictCache.WithLabelValues("hit").Inc()
		if k.Digest != "" {
			s.m.registry.WithLabelValues("hit").Inc()
		}
	default:
		s.m.verdictCache.WithLabelValues("miss").Inc()
		if k.Digest != "" {
			s.m.registry.WithLabelValues("miss").Inc()
		}
		s.m.revocation.WithLabelValues("hit").Add(float64(a.revHits))
		s.m.revocation.WithLabelValues("miss").Add(float64(a.revMisses))
	}
	return a
}

// verify verifies ref (REGISTRY/REPOSITORY@DIGEST) with g's service and
// returns the answer and when it expires. It runs apart from the request
// that started it (others may wait for it), bounded by
// Config.VerifyTimeout, once one of Config.MaxVerifying tokens is free;
// the starting request's ctx bounds only that wait.
func (s *Server) verify(ctx context.Context, g *generation, ref string) (*answer, time.Time) {
	select {
	case s.verifying <- struct{}{}:
		defer func() { <-s.verifying }()
	case <-ctx.Done():
		return errorAnswer(ref, ref, fmt.Errorf("%d verifications are running and none ended before the deadline: %w", cap(s.verifying), ctx.Err())), s.cfg.Now()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.VerifyTimeout)
	defer cancel()
	report, err := g.svc.Verify(ctx, ref, s.cfg.Verify)
	now := s.cfg.Now()
	if err != nil {
		// Nothing decided (the registry does not have it, cannot be
		// reached, refused us): not cached.
		return errorAnswer(ref, ref, err), now
	}
	a, err := reportAnswer(report)
	if err != nil {
		return errorAnswer(ref, ref, err), now
	}
	a.revHits, a.revMisses = revocationSources(report)
	return a, expiry(report, now, s.cfg.CacheTTL, s.cfg.FailureTTL)
}

// reportAnswer is the answer for a report: its verdict, digest, Brief and
// JSON, and the Brief as the error unless the artifact is admitted.
func reportAnswer(r *trustpolicy.Report) (*answer, error) {
	result, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding the report: %w", err)
	}
	brief := summary(r)
	errText := ""
	if r.Verdict != trustpolicy.VerdictVerified && r.Verdict != trustpolicy.VerdictSkipped {
		errText = brief
	}
	return newAnswer(ItemValue{Verdict: string(r.Verdict), Digest: digestOf(r.Reference), Summary: brief, Result: result}, errText)
}

// newAnswer encodes v and errText once, escaped for terminals
// (textsafe.EscapeJSON), so that a cached answer is copied into responses
// as it is.
func newAnswer(v ItemValue, errText string) (*answer, error) {
	value, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the answer: %w", err)
	}
	a := &answer{verdict: v.Verdict, value: textsafe.EscapeJSON(value), err: errText}
	if errText != "" {
		a.errJSON = jsonString(errText)
	}
	return a, nil
}

// jsonString is s as a JSON string, escaped for terminals.
func jsonString(s string) []byte {
	return appendJSONString(nil, s)
}

// appendJSONString appends s as a JSON string, escaped for terminals. A
// string of printable ASCII without quote or backslash (an image
// reference) is copied as it is.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, textsafe.EscapeJSON(q)...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// cutMarker ends a Brief that was cut to fit a terminal line.
const cutMarker = "(cut; see explain)"

// summary is r's Brief; when the Brief had to cut the reason or leave out
// the fix to stay under 200 characters, it is the whole Summary on one
// line instead: an admission message must say what to fix.
func summary(r *trustpolicy.Report) string {
	brief := r.Brief()
	lines := strings.Split(r.Summary(), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	full := strings.Join(lines, " ")
	if strings.HasSuffix(brief, cutMarker) || (strings.Contains(full, "; fix: ") && !strings.Contains(brief, "; fix: ")) {
		return full
	}
	return brief
}

// errorAnswer is the answer for a key nothing could be decided about.
func errorAnswer(key, ref string, err error) *answer {
	what := key
	if ref != "" {
		what = ref
	}
	summary := fmt.Sprintf("%s: %s: %s", verdictError, textsafe.Escape(what), textsafe.Escape(err.Error()))
	if errors.Is(err, ErrInvalidKey) {
		summary = fmt.Sprintf("%s: %s", verdictError, textsafe.Escape(err.Error()))
	}
	a, err := newAnswer(ItemValue{Verdict: verdictError, Digest: digestOf(ref), Summary: summary}, summary)
	if err != nil { // strings always encode; never reached
		const msg = "error: the answer could not be encoded"
		return &answer{verdict: verdictError, value: []byte(`{"verdict":"error","summary":"` + msg + `"}`), err: msg, errJSON: []byte(`"` + msg + `"`)}
	}
	return a
}

// digestOf is the digest of REGISTRY/REPOSITORY@DIGEST, "" otherwise.
func digestOf(ref string) string {
	for i := len(ref) - 1; i >= 0; i-- {
		if ref[i] == '@' {
			return ref[i+1:]
		}
	}
	return ""
}
