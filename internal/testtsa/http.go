package testtsa

import (
	"encoding/asn1"
	"errors"
	"io"
	"net/http"

	"github.com/notaryproject/tspclient-go"
	"github.com/notaryproject/tspclient-go/pki"
)

// maxRequestBytes bounds a request body; a real TimeStampReq is about 100
// bytes.
const maxRequestBytes = 64 << 10

// ServeHTTP implements the RFC 3161 section 3.4 HTTP transport: a POST with
// Content-Type application/timestamp-query, answered 200 with an
// application/timestamp-reply TimeStampResp, so a *TSA can be served with
// httptest.NewServer (which binds 127.0.0.1) and reached with
// tspclient.NewHTTPTimestamper. A body that is not a DER TimeStampReq gets a
// rejection response with failInfo badDataFormat; other methods get 405, other
// content types 415, a body over 64 KiB 413, and a failure to sign 500.
func (t *TSA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "testtsa: method must be POST", http.StatusMethodNotAllowed)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != tspclient.MediaTypeTimestampQuery {
		http.Error(w, "testtsa: Content-Type must be "+tspclient.MediaTypeTimestampQuery, http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			http.Error(w, "testtsa: request too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "testtsa: reading request: "+err.Error(), http.StatusBadRequest)
		return
	}

	var der []byte
	var req tspclient.Request
	if rest, perr := asn1.Unmarshal(body, &req); perr != nil || len(rest) != 0 {
		der, err = (&rejection{pki.FailureInfoBadDataFormat, "request is not a DER TimeStampReq"}).marshal()
	} else if err = r.Context().Err(); err == nil {
		der, err = t.respond(&req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", tspclient.MediaTypeTimestampReply)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(der) // the client has gone if this fails; nothing to report to
}
