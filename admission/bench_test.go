package admission

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// BenchmarkWarm: a provider request with 10 keys whose verdicts are
// cached, through the HTTP handler (no TLS).
func BenchmarkWarm(b *testing.B) {
	w := newWorld(b)
	var keys []string
	for i := range 10 {
		keys = append(keys, w.signed(b, "app", fmt.Sprintf("v%d", i), fmt.Sprintf("c%d", i)))
	}
	_, hs := w.server(b, nil)
	url := hs.URL
	body, _ := json.Marshal(ProviderRequest{APIVersion: APIVersionV1beta1, Kind: KindProviderRequest, Request: Request{Keys: keys}})
	n := 0
	for b.Loop() {
		resp, err := http.Post(url+PathVerify, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		n = len(raw)
	}
	b.ReportMetric(float64(n), "response-bytes")
}
