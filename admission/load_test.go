package admission

import (
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// stall makes the registry hold every request whose path contains path
// until release is closed; entered receives one value per held request.
func stall(w *world, path string) (entered chan string, release chan struct{}) {
	entered, release = make(chan string, 64), make(chan struct{})
	w.reg.Tamper(func(_ http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, path) {
			entered <- r.URL.Path
			<-release
		}
		return false
	})
	return entered, release
}

// TestOverload: with every worker busy and the queue full, a request gets
// a systemError at once; the busy and queued ones are answered once the
// registry answers.
func TestOverload(t *testing.T) {
	w := newWorld(t)
	slow := w.signed(t, "slow", "v1", "slow")
	other := w.signed(t, "app", "v1", "other")
	s, hs := w.server(t, func(c *Config) { c.MaxInFlight, c.MaxQueue, c.Timeout = 1, 1, time.Hour })
	entered, release := stall(w, "/slow/")

	var wg sync.WaitGroup
	results := make([]ProviderResponse, 2)
	wg.Add(1)
	go func() { defer wg.Done(); _, results[0] = post(t, hs.URL, slow) }()
	<-entered // the first request holds the only worker
	wg.Add(1)
	go func() { defer wg.Done(); _, results[1] = post(t, hs.URL, other) }()
	for len(s.lim.queue) != 1 { // the second one waits in the queue
		runtime.Gosched()
	}
	code, resp := post(t, hs.URL, other)
	if code != http.StatusServiceUnavailable || len(resp.Response.Items) != 0 || !strings.Contains(resp.Response.SystemError, "overloaded: 1 requests are being verified and 1 are queued") {
		t.Errorf("third request: %d %+v; want 503 with an overloaded systemError", code, resp)
	}
	close(release)
	wg.Wait()
	for i, r := range results {
		if r.Response.SystemError != "" || len(r.Response.Items) != 1 || r.Response.Items[0].Error != "" {
			t.Errorf("request %d: %+v", i, r)
		}
	}
	if got := metricValue(t, hs.URL, "trustpolicy_serve_overloaded_total"); got != "1" {
		t.Errorf("overloaded_total %s", got)
	}
}

// TestDeadline: a registry that does not answer gets the key an error at
// the deadline (fail closed, no hang, no systemError); the verification
// goes on, and once it ends the next request is answered from the cache.
func TestDeadline(t *testing.T) {
	w := newWorld(t)
	slow := w.signed(t, "slow", "v1", "slow")
	s, hs := w.server(t, func(c *Config) { c.Timeout, c.VerifyTimeout = 100*time.Millisecond, time.Hour })
	entered, release := stall(w, "/slow/")
	code, resp := post(t, hs.URL, slow)
	it := resp.Response.Items
	if code != http.StatusOK || resp.Response.SystemError != "" || len(it) != 1 || value(t, it[0]).Verdict != verdictError ||
		!strings.Contains(it[0].Error, "no verdict within the 100ms deadline") {
		t.Fatalf("%d %+v; want an item error at the deadline", code, resp)
	}
	<-entered
	close(release)
	key := cacheKey{ref: slow, gen: s.Generation()}
	for { // the detached verification fills the cache
		if _, ok := s.cache.lookup(key, w.clock.Now()); ok {
			break
		}
		runtime.Gosched()
	}
	if _, resp := post(t, hs.URL, slow); resp.Response.Items[0].Error != "" {
		t.Fatalf("after the registry answered: %+v", resp)
	}
}

// TestSingleFlight: concurrent requests for one artifact share one
// verification.
func TestSingleFlight(t *testing.T) {
	w := newWorld(t)
	slow := w.signed(t, "slow", "v1", "slow")
	s, hs := w.server(t, func(c *Config) { c.Timeout = time.Hour })
	entered, release := stall(w, "/slow/manifests/")
	const n = 4
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, resp := post(t, hs.URL, slow); resp.Response.Items[0].Error != "" {
				t.Errorf("%+v", resp)
			}
		}()
	}
	<-entered
	for s.lim.inFlight() != n { // every request is in, waiting for the one verification
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if got := metricValue(t, hs.URL, `trustpolicy_serve_verdict_cache_total{result="miss"}`); got != "4" {
		t.Errorf("misses %s", got)
	}
	if got := w.rev.checks(); got != 1 {
		t.Errorf("%d verifications for %d concurrent requests; want 1", got, n)
	}
}
