package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
)

// Paths the Handler serves.
const (
	PathVerify  = "/v1/verify"
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
	PathMetrics = "/metrics"
)

// Handler serves the provider endpoint POST /v1/verify, /healthz (the
// process is up), /readyz (200 when the current policy and trust stores
// loaded and linted clean, else 503 with the reason) and /metrics
// (Prometheus).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(PathVerify, s.serveVerify)
	mux.HandleFunc(PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc(PathReadyz, func(w http.ResponseWriter, _ *http.Request) {
		ready, reason := s.Ready()
		if !ready {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+reason)
			return
		}
		writeText(w, http.StatusOK, "ready: "+reason)
	})
	mux.Handle(PathMetrics, s.m.handler())
	return mux
}

// serveVerify answers one ProviderRequest.
func (s *Server) serveVerify(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	apiVersion := APIVersionV1beta1
	code := http.StatusOK
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.Error("internal error", "panic", textsafe.Escape(fmt.Sprint(p)))
			code = http.StatusInternalServerError
			s.writeResponse(w, code, apiVersion, Response{Idempotent: true, SystemError: "internal error of the provider; see its log"})
		}
		s.m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
		s.m.duration.Observe(time.Since(start).Seconds())
	}()
	fail := func(status int, err error) {
		code = status
		s.writeResponse(w, code, apiVersion, Response{Idempotent: true, SystemError: textsafe.Escape(err.Error())})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(http.StatusMethodNotAllowed, fmt.Errorf("method %s: %s takes POST", r.Method, PathVerify))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		fail(http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: send application/json", r.Header.Get("Content-Type")))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	req, err := DecodeRequest(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes+1), s.cfg.MaxBodyBytes, s.cfg.MaxKeys)
	if err != nil {
		var re *RequestError
		if errors.As(err, &re) {
			fail(re.Status, err)
			return
		}
		fail(http.StatusBadRequest, err)
		return
	}
	apiVersion = req.APIVersion
	g := s.gen.Load()
	if g == nil {
		_, reason := s.Ready()
		fail(http.StatusServiceUnavailable, fmt.Errorf("not ready: %s", reason))
		return
	}
	if err := s.lim.acquire(ctx, func(d int) { s.m.queued.Add(float64(d)) }); err != nil {
		if errors.Is(err, ErrOverloaded) {
			s.m.overloaded.Inc()
		}
		fail(http.StatusServiceUnavailable, err)
		return
	}
	defer s.lim.release()
	answers := s.answerKeys(ctx, g, req.Request.Keys)
	writeBody(w, http.StatusOK, encodeItems(apiVersion, req.Request.Keys, answers))
}

// encodeItems is the ProviderResponse for keys and their answers, built
// from the answers' encodings (made once, when each was decided) rather
// than encoded again: a response of 10 cached verdicts is a few copies.
func encodeItems(apiVersion string, keys []string, answers []*answer) []byte {
	n := 128
	for i, a := range answers {
		n += len(keys[i]) + len(a.value) + len(a.errJSON) + 40
	}
	b := make([]byte, 0, n)
	b = append(b, `{"apiVersion":`...)
	b = appendJSONString(b, apiVersion)
	b = append(b, `,"kind":"`+KindProviderResponse+`","response":{"idempotent":true,"items":[`...)
	for i, a := range answers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = appendJSONString(b, keys[i])
		b = append(b, `,"value":`...)
		b = append(b, a.value...)
		if a.errJSON != nil {
			b = append(b, `,"error":`...)
			b = append(b, a.errJSON...)
		}
		b = append(b, '}')
	}
	return append(b, "]}}\n"...)
}

// writeResponse writes a ProviderResponse. Its strings are JSON-escaped
// for terminals too (textsafe.EscapeJSON), since people read it with curl
// and in Gatekeeper's logs.
func (s *Server) writeResponse(w http.ResponseWriter, status int, apiVersion string, resp Response) {
	if resp.Items == nil {
		resp.Items = []Item{}
	}
	body, err := json.Marshal(ProviderResponse{APIVersion: apiVersion, Kind: KindProviderResponse, Response: resp})
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"apiVersion":"` + APIVersionV1beta1 + `","kind":"ProviderResponse","response":{"idempotent":true,"items":[],"systemError":"internal error: encoding the response"}}`)
	}
	writeBody(w, status, append(textsafe.EscapeJSON(body), '\n'))
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = fmt.Fprintln(w, textsafe.Escape(msg))
}
