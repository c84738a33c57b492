package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/containerdverifier"
)

// BenchmarkContainerdVerifierLatency is the verifier's latency per pull as
// containerd sees it: one process run (exec, configuration, lint, registry
// on loopback, revocation, exit) with containerd's arguments and the
// descriptor on stdin, for a signed image whose leaf and intermediate have
// CRL distribution points on the loopback OpenSSL CA.
//
//   - cold: the revocation cache is empty before every run, so both CRLs
//     are downloaded, validated and indexed;
//   - warm: the cache holds them (what the previous pull left);
//   - warm-offline: the same, in offline mode.
//
// Run: NOTATION_PKCS11_E2E=required go test -run '^$' -bench ContainerdVerifierLatency -benchtime 30x ./cmd/notation-pkcs11-containerd/
func BenchmarkContainerdVerifierLatency(b *testing.B) {
	w := newE2EWorld(b)
	name, dgst := w.image(b, "bench", "good")
	desc := fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":1}`+"\n", dgst)
	invoke := func(b *testing.B) {
		cmd := exec.Command(w.verifier, "-name", name, "-digest", dgst, "-stdin-media-type", containerdverifier.DescriptorMediaType)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), w.configEnv()}
		cmd.Stdin = bytes.NewReader([]byte(desc))
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Run(); err != nil {
			b.Fatalf("verifier: %v: %s", err, out.String())
		}
	}
	for _, c := range []struct {
		name    string
		offline bool
		cold    bool
	}{
		{"cold", false, true},
		{"warm", false, false},
		{"warm-offline", true, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			w.writeConfig(b, w.cache(), c.offline)
			invoke(b) // fills the cache
			fetches := w.ca.CRLFetches("intermediate")
			b.ResetTimer()
			for range b.N {
				if c.cold {
					b.StopTimer()
					if err := os.RemoveAll(w.cache()); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				invoke(b)
			}
			b.StopTimer()
			got := w.ca.CRLFetches("intermediate") - fetches
			if c.cold && got != b.N || !c.cold && got != 0 {
				b.Errorf("%d CRL downloads in %d runs", got, b.N)
			}
		})
	}
}
