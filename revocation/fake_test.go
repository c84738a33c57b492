package revocation

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// fakeServer is an in-process HTTP server on 127.0.0.1 whose handlers the
// tests swap, with a request count per path prefix.
type fakeServer struct {
	srv      *httptest.Server
	mu       sync.Mutex
	handlers map[string]http.HandlerFunc
	hits     map[string]int
}

func newFakeServer(t testing.TB) *fakeServer {
	f := &fakeServer{handlers: map[string]http.HandlerFunc{}, hits: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	best := ""
	for p := range f.handlers {
		if strings.HasPrefix(r.URL.Path, p) && len(p) > len(best) {
			best = p
		}
	}
	h := f.handlers[best]
	f.hits[best]++
	f.mu.Unlock()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	h(w, r)
}

// url returns the absolute URL of path.
func (f *fakeServer) url(path string) string { return f.srv.URL + path }

func (f *fakeServer) handle(path string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers[path] = h
}

func (f *fakeServer) serveBytes(path string, b []byte) {
	f.handle(path, func(w http.ResponseWriter, r *http.Request) { w.Write(b) })
}

func (f *fakeServer) serveStatus(path string, code int) {
	f.handle(path, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", code) })
}

// serveSlow answers after d, or when the client gives up.
func (f *fakeServer) serveSlow(path string, d time.Duration, b []byte) {
	f.handle(path, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
			w.Write(b)
		case <-r.Context().Done():
		}
	})
}

func (f *fakeServer) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

// ocspRequestOf decodes the OCSP request of a GET or POST.
func ocspRequestOf(t testing.TB, r *http.Request, prefix string) *ocsp.Request {
	var der []byte
	var err error
	if r.Method == http.MethodPost {
		der, err = io.ReadAll(r.Body)
	} else {
		var p string
		p, err = url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), prefix+"/"))
		if err == nil {
			der, err = base64.StdEncoding.DecodeString(p)
		}
	}
	if err != nil {
		t.Errorf("bad OCSP request: %v", err)
		return nil
	}
	req, err := ocsp.ParseRequest(der)
	if err != nil {
		t.Errorf("bad OCSP request: %v", err)
		return nil
	}
	return req
}
