package revocation

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// gate is a server handler that holds every request until the test opens
// it, then answers with answer.
type gate struct {
	open    chan struct{}
	arrived chan struct{} // one value per request
}

func newGate() *gate { return &gate{open: make(chan struct{}), arrived: make(chan struct{}, 100)} }

func (g *gate) handler(answer http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g.arrived <- struct{}{}
		select {
		case <-g.open:
			answer(w, r)
		case <-r.Context().Done():
		}
	}
}

// joins counts the callers waiting on each flight whose key contains one
// of the given paths, and lets the test wait for a number of them.
type joins struct {
	mu    sync.Mutex
	cond  *sync.Cond
	count map[string]int
}

func newJoins() *joins {
	j := &joins{count: map[string]int{}}
	j.cond = sync.NewCond(&j.mu)
	return j
}

func (j *joins) hook(paths ...string) func(key string) {
	return func(key string) {
		for _, p := range paths {
			if strings.Contains(key, p) {
				j.mu.Lock()
				j.count[p]++
				j.cond.Broadcast()
				j.mu.Unlock()
			}
		}
	}
}

// wait blocks until n callers joined the flight for path.
func (j *joins) wait(path string, n int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.count[path] < n {
		j.cond.Wait()
	}
}

// TestConcurrentChecksShareOneFetch: checks that run at once share one
// OCSP exchange and one download per CRL. The servers hold every request
// until all the checks wait on it, so how fast goroutines start does not
// matter.
func TestConcurrentChecksShareOneFetch(t *testing.T) {
	const n = 25
	w := newWorld(t, worldConfig{})
	ocspGate, crlGate := newGate(), newGate()
	w.srv.handle("/ocsp", ocspGate.handler(func(rw http.ResponseWriter, _ *http.Request) { http.Error(rw, "down", 503) }))
	w.srv.handle("/int.crl", crlGate.handler(func(rw http.ResponseWriter, _ *http.Request) { rw.Write(w.inter.signCRL(t, crlSpec{})) }))
	w.srv.handle("/root.crl", crlGate.handler(func(rw http.ResponseWriter, _ *http.Request) { rw.Write(w.root.signCRL(t, crlSpec{})) }))
	w.opts.OCSPTimeout, w.opts.CRLTimeout, w.opts.ChainTimeout = time.Minute, time.Minute, 2*time.Minute
	c := w.client()
	js := newJoins()
	c.flights.joined = js.hook("/ocsp")
	c.crls.fetches.joined = js.hook("/int.crl", "/root.crl")
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			res := w.checkWith(c, time.Time{}, testNow)
			if res[0].Status != StatusOK || res[0].Method != MethodOCSPFallbackCRL || res[1].Status != StatusOK {
				t.Errorf("%+v", res)
			}
		})
	}
	js.wait("/ocsp", n)     // every check waits on the one OCSP exchange
	js.wait("/root.crl", n) // and on the one download of the intermediate's CRL
	close(ocspGate.open)    // OCSP fails: every check falls back to the CRL
	js.wait("/int.crl", n)
	close(crlGate.open)
	wg.Wait()
	for _, p := range []string{"/ocsp", "/int.crl", "/root.crl"} {
		if got := w.srv.count(p); got != 1 {
			t.Errorf("%s: %d requests, want 1", p, got)
		}
	}
}

// TestSharedDownloadSurvivesCancel: a caller that gives up on a CRL
// download another caller shares does not cancel it for that caller.
func TestSharedDownloadSurvivesCancel(t *testing.T) {
	w := newWorld(t, worldConfig{leaf: crlOnly})
	g := newGate()
	w.srv.handle("/int.crl", g.handler(func(rw http.ResponseWriter, _ *http.Request) { rw.Write(w.inter.signCRL(t, crlSpec{})) }))
	w.opts.CRLTimeout, w.opts.ChainTimeout = time.Minute, 2*time.Minute
	c := w.client()
	js := newJoins()
	c.crls.fetches.joined = js.hook("/int.crl")

	ctx1, cancel1 := context.WithCancel(context.Background())
	var err1 error
	var wg1, wg2 sync.WaitGroup
	wg1.Go(func() { _, err1 = c.Check(ctx1, Request{Chain: w.chain(), Now: testNow}) })
	<-g.arrived // the download runs
	var res2 []Result
	var err2 error
	wg2.Go(func() { res2, err2 = c.Check(context.Background(), Request{Chain: w.chain(), Now: testNow}) })
	js.wait("/int.crl", 2) // both wait on it
	cancel1()
	wg1.Wait()
	if !errors.Is(err1, context.Canceled) {
		t.Errorf("the caller that gave up: %v, want context.Canceled", err1)
	}
	close(g.open)
	wg2.Wait()
	if err2 != nil || res2[0].Status != StatusOK || res2[0].FromCache {
		t.Fatalf("the other caller: %+v %v", res2, err2)
	}
	if got := w.srv.count("/int.crl"); got != 1 {
		t.Errorf("%d downloads, want the one shared", got)
	}
}
