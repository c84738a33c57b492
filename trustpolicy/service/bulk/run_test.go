package bulk_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/bulk"
)

func inputs(refs ...string) []bulk.Input {
	out := make([]bulk.Input, len(refs))
	for i, r := range refs {
		out[i] = bulk.Input{Reference: r, Source: fmt.Sprintf("arg %d", i+1)}
	}
	return out
}

func verified(_ context.Context, in bulk.Input) bulk.Record {
	return bulk.Record{Reference: in.Reference, Source: in.Source, Verdict: trustpolicy.VerdictVerified}
}

// collectRun runs Run and returns the records emitted.
func collectRun(t *testing.T, ctx context.Context, in []bulk.Input, f bulk.Func, opts bulk.Options) ([]bulk.Record, error) {
	t.Helper()
	var got []bulk.Record
	err := bulk.Run(ctx, in, f, opts, func(r bulk.Record) error {
		got = append(got, r)
		return nil
	})
	return got, err
}

// gate makes verify calls wait until the test releases them, and tells
// the test which started.
type gate struct {
	started chan bulk.Input
	mu      sync.Mutex
	release map[string]chan struct{}
}

func newGate() *gate {
	return &gate{started: make(chan bulk.Input), release: map[string]chan struct{}{}}
}

func (g *gate) ch(ref string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.release[ref] == nil {
		g.release[ref] = make(chan struct{})
	}
	return g.release[ref]
}

func (g *gate) verify(ctx context.Context, in bulk.Input) bulk.Record {
	g.started <- in
	<-g.ch(in.Reference)
	return verified(ctx, in)
}

// TestRunOrder: records come out in input order although the workers
// finish in reverse order.
func TestRunOrder(t *testing.T) {
	const n, jobs = 23, 4
	var refs []string
	for i := range n {
		refs = append(refs, fmt.Sprintf("r%d.example/app:v%d", i%3, i))
	}
	g := newGate()
	go func() {
		// Release each batch of started calls last-first.
		left := n
		for left > 0 {
			var batch []bulk.Input
			for len(batch) < min(jobs, left) {
				batch = append(batch, <-g.started)
			}
			for i := len(batch) - 1; i >= 0; i-- {
				close(g.ch(batch[i].Reference))
			}
			left -= len(batch)
		}
	}()
	var progress []int
	got, err := collectRun(t, t.Context(), inputs(refs...), g.verify, bulk.Options{Jobs: jobs, Progress: func(done, total int) {
		if total != n {
			t.Errorf("progress total %d", total)
		}
		progress = append(progress, done)
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if r.Reference != refs[i] {
			t.Fatalf("record %d is %s, want %s", i, r.Reference, refs[i])
		}
	}
	if len(got) != n || len(progress) != n || !slices.IsSorted(progress) || progress[n-1] != n {
		t.Errorf("%d records, progress %v", len(got), progress)
	}
}

// TestRunDuplicates: a reference given three times is verified once and
// reported three times, each with its own source.
func TestRunDuplicates(t *testing.T) {
	var calls sync.Map
	count := func(ctx context.Context, in bulk.Input) bulk.Record {
		n, _ := calls.LoadOrStore(in.Reference, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		return verified(ctx, in)
	}
	refs := []string{"r.example/a:v1", "r.example/b:v1", "r.example/a:v1", "r.example/c:v1", "r.example/a:v1", "r.example/b:v1"}
	got, err := collectRun(t, t.Context(), inputs(refs...), count, bulk.Options{Jobs: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(refs) {
		t.Fatalf("%d records", len(got))
	}
	for i, r := range got {
		if r.Reference != refs[i] || r.Source != fmt.Sprintf("arg %d", i+1) {
			t.Errorf("record %d: %s from %s", i, r.Reference, r.Source)
		}
	}
	calls.Range(func(k, v any) bool {
		if n := v.(*atomic.Int32).Load(); n != 1 {
			t.Errorf("%s verified %d times", k, n)
		}
		return true
	})
}

// TestRunPerHost: with 4 jobs and 2 per host, the first four calls to
// start are two per host, although the first ten inputs are one host's.
func TestRunPerHost(t *testing.T) {
	var refs []string
	for _, h := range []string{"one.example", "two.example"} {
		for i := range 10 {
			refs = append(refs, fmt.Sprintf("%s/app:v%d", h, i))
		}
	}
	g := newGate()
	done := make(chan error, 1)
	go func() {
		_, err := collectRun(t, context.Background(), inputs(refs...), g.verify, bulk.Options{Jobs: 4, PerHost: 2})
		done <- err
	}()
	for round := 0; round < 5; round++ {
		perHost := map[string]int{}
		var batch []bulk.Input
		for range 4 {
			in := <-g.started
			host, _, _ := strings.Cut(in.Reference, "/")
			perHost[host]++
			batch = append(batch, in)
		}
		if perHost["one.example"] != 2 || perHost["two.example"] != 2 {
			t.Errorf("round %d: %v running at once, want 2 per host", round, perHost)
		}
		for _, in := range batch {
			close(g.ch(in.Reference))
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRunStops: emit's error stops the run; a cancelled context ends it
// with the context's error, after emitting what was in flight.
func TestRunStops(t *testing.T) {
	var refs []string
	for i := range 200 {
		refs = append(refs, fmt.Sprintf("r.example/app:v%d", i))
	}
	var calls atomic.Int32
	f := func(ctx context.Context, in bulk.Input) bulk.Record {
		calls.Add(1)
		return verified(ctx, in)
	}
	stop := errors.New("disk full")
	emitted := 0
	err := bulk.Run(t.Context(), inputs(refs...), f, bulk.Options{Jobs: 2}, func(bulk.Record) error {
		if emitted++; emitted == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || emitted != 3 || calls.Load() >= 200 {
		t.Errorf("error %v after %d emitted and %d calls", err, emitted, calls.Load())
	}

	ctx, cancel := context.WithCancel(t.Context())
	calls.Store(0)
	var got []bulk.Record
	err = bulk.Run(ctx, inputs(refs...), f, bulk.Options{Jobs: 2}, func(r bulk.Record) error {
		got = append(got, r)
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || len(got) == 0 || len(got) >= 200 {
		t.Errorf("cancelled run: error %v, %d records", err, len(got))
	}
	for i, r := range got {
		if r.Reference != refs[i] {
			t.Fatalf("record %d is %s after cancel", i, r.Reference)
		}
	}
}

func TestRunEmpty(t *testing.T) {
	got, err := collectRun(t, t.Context(), nil, verified, bulk.Options{})
	if err != nil || len(got) != 0 {
		t.Errorf("%v %v", got, err)
	}
}

func TestSummary(t *testing.T) {
	cases := []struct {
		verdicts []trustpolicy.Verdict
		total    int
		exit     int
		line     string
	}{
		{[]trustpolicy.Verdict{"verified", "skipped"}, 2, bulk.ExitOK, "2 artifacts: 1 verified, 1 skipped, 0 failed, 0 inconclusive"},
		{[]trustpolicy.Verdict{"verified", "inconclusive"}, 2, bulk.ExitInconclusive, "2 artifacts: 1 verified, 0 skipped, 0 failed, 1 inconclusive"},
		{[]trustpolicy.Verdict{"inconclusive", "failed"}, 2, bulk.ExitFailed, "2 artifacts: 0 verified, 0 skipped, 1 failed, 1 inconclusive"},
		{[]trustpolicy.Verdict{"verified"}, 1, bulk.ExitOK, "1 artifact: 1 verified, 0 skipped, 0 failed, 0 inconclusive"},
		{[]trustpolicy.Verdict{"verified"}, 3, bulk.ExitFailed, "3 artifacts: 1 verified, 0 skipped, 0 failed, 0 inconclusive, 2 not run (interrupted)"},
		{nil, 0, bulk.ExitOK, "0 artifacts: 0 verified, 0 skipped, 0 failed, 0 inconclusive"},
	}
	for _, c := range cases {
		s := bulk.NewSummary(c.total)
		for _, v := range c.verdicts {
			s.Add(bulk.Record{Verdict: v})
		}
		if s.Exit() != c.exit || s.ExitCode != c.exit || s.String() != c.line || s.Schema != bulk.SummarySchema {
			t.Errorf("%v of %d: exit %d, %q", c.verdicts, c.total, s.Exit(), s.String())
		}
	}
}
