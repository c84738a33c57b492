package main

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkRatifyLatency measures whole `ratify verify` runs (Ratify CLI
// v1.4.6, process start included) on one artifact signed through the plugin
// (EC-256 in SoftHSM, COSE), with Ratify's built-in notation verifier and
// with this verifier as an external plugin (a second process per
// signature), interleaved in one run with the same policy and trust anchor:
//
//	NOTATION_PKCS11_E2E=required go test -run '^$' -bench RatifyLatency -benchtime 30x ./cmd/notation-pkcs11-ratify/
//
// It reports the median of each and their ratio (external/builtin).
func BenchmarkRatifyLatency(b *testing.B) {
	w := newWorld(b)
	uri := w.importKey(b, filepath.Join(testPKI, "ec-256", "leaf.key"), "bench")
	ref := w.pushSigned(b, "bench/ec-256", uri, chain("ec-256"), "cose")
	v := w.newVerifiers(b, policy("strict", []string{"ca:test"}, star, nil), root("ec-256"))
	cfgs := []map[string]any{v.builtin, v.external}
	paths := make([]string, len(cfgs))
	for i, c := range cfgs {
		p, err := w.ratify.WriteConfig([]string{"builtin.json", "external.json"}[i], ratifyConfig(w, c))
		if err != nil {
			b.Fatal(err)
		}
		paths[i] = p
	}
	// Warm up: the page cache, and a first run of each verifier.
	for i := 0; i < 3; i++ {
		for _, p := range paths {
			w.mustVerify(b, ref, p)
		}
	}
	times := [2][]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, p := range paths {
			start := time.Now()
			w.mustVerify(b, ref, p)
			times[j] = append(times[j], time.Since(start))
		}
	}
	b.StopTimer()
	med := func(d []time.Duration) time.Duration {
		s := slices.Clone(d)
		slices.Sort(s)
		return s[len(s)/2]
	}
	bm, em := med(times[0]), med(times[1])
	b.ReportMetric(float64(bm)/1e6, "builtin-ms")
	b.ReportMetric(float64(em)/1e6, "external-ms")
	b.ReportMetric(float64(em)/float64(bm), "ratio")
}
