package revocation

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"time"
)

// chainID is the name part of a saved chain.
func chainID(chain []*x509.Certificate) string {
	h := sha256.New()
	for _, c := range chain {
		h.Write(c.Raw)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// testpkiChain reads a PEM chain file.
func testpkiChain(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return out, nil
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

func TestOfflineHintArgs(t *testing.T) {
	w := newWorld(t, worldConfig{leaf: crlOnly})
	w.opts.Offline = true
	w.opts.CacheDir = t.TempDir() + "/my cache"
	w.opts.ImportArgs = []string{"--truststore", "/etc/notation/trust store"}
	r := w.check(time.Time{})[0]
	want(t, r, StatusUnknown, MethodCRL, `"trustpolicy crl import --crl-cache '`+w.opts.CacheDir+`' --truststore '/etc/notation/trust store' --issuer '`+w.opts.CacheDir+`/chains/chain-`)
	w.opts.NoDiskCache = true
	r = w.check(time.Time{})[0]
	want(t, r, StatusUnknown, MethodCRL, "CRLs can be imported only into a disk cache")
	if strings.Contains(r.Detail, "chain-") {
		t.Errorf("a chain file named without a disk cache: %s", r.Detail)
	}
}
