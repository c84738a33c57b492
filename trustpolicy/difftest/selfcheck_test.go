package difftest

import (
	"context"
	"slices"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// TestComparatorDetects checks the checker: a result of ours that differs
// from notation's in any of the ways the suite compares must be reported.
func TestComparatorDetects(t *testing.T) {
	ctx := context.Background()
	verified := &tcase{group: "selfcheck", sig: sigSpec{mt: mtJWS, scheme: x509Scheme, kt: "ec-256", chain: chainFull}, stmts: []stmtSpec{main("strict")}}
	expired := &tcase{group: "selfcheck", sig: sigSpec{mt: mtCOSE, scheme: x509Scheme, kt: "ec-256", chain: chainFull, expiry: expiryExpired}, stmts: []stmtSpec{main("strict")}}
	for _, c := range []*tcase{verified, expired} {
		c.stmts[0].name = "main"
		c.name = c.computeName()
	}

	run := func(c *tcase) (*input, oracleResult, ourResult) {
		in := c.build(t)
		o, u := runOracle(ctx, in), runOurs(ctx, in)
		if d := compareResults(c, in, o, u, newTally()); len(d) != 0 {
			t.Fatalf("%s: unexpected differences before tampering: %v", c.name, d)
		}
		return in, o, u
	}
	tamper := func(u ourResult, f func(u *ourResult)) ourResult {
		res := *u.res
		res.Checks = slices.Clone(u.res.Checks)
		u.res = &res
		u.calls = slices.Clone(u.calls)
		f(&u)
		return u
	}

	vin, vo, vu := run(verified)
	ein, eo, eu := run(expired)
	if vo.verdict != vVerified || eo.verdict != vFailed {
		t.Fatalf("fixtures: want verified and failed, got %s and %s", vo.verdict, eo.verdict)
	}
	tests := []struct {
		name string
		c    *tcase
		in   *input
		o    oracleResult
		u    ourResult
	}{
		{"verdict", verified, vin, vo, tamper(vu, func(u *ourResult) { u.verdict = vFailed })},
		{"check outcome", verified, vin, vo, tamper(vu, func(u *ourResult) {
			u.res.Checks[1].Outcome, u.res.Checks[1].Error = trustpolicy.OutcomeFailed, "x"
		})},
		{"check action", verified, vin, vo, tamper(vu, func(u *ourResult) { u.res.Checks[2].Action = trustpolicy.ActionLog })},
		{"check skipped that notation ran", verified, vin, vo, tamper(vu, func(u *ourResult) { u.res.Checks[4].Outcome = trustpolicy.OutcomeSkipped })},
		{"revocation requests", verified, vin, vo, tamper(vu, func(u *ourResult) { u.calls = nil })},
		{"check error text", expired, ein, eo, tamper(eu, func(u *ourResult) {
			u.res.Checks[2].Error += "!"
		})},
		{"check run after an enforced failure", expired, ein, eo, tamper(eu, func(u *ourResult) {
			u.res.Checks[4].Outcome = trustpolicy.OutcomePassed
		})},
		{"panic", verified, vin, vo, tamper(vu, func(u *ourResult) { u.panic = "boom" })},
	}
	for _, tt := range tests {
		if d := compareResults(tt.c, tt.in, tt.o, tt.u, newTally()); len(d) == 0 {
			t.Errorf("%s: a tampered result of ours was not reported", tt.name)
		}
	}
}
