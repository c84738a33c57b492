package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
)

func TestDefaultCacheDir(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the table uses the Linux cache folder rules")
	}
	fixed := func(s string, err error) func() (string, error) { return func() (string, error) { return s, err } }
	cases := []struct {
		name     string
		vars     map[string]string
		cacheDir func() (string, error)
		want     string // "" means no folder
	}{
		{"XDG_CACHE_HOME", map[string]string{"XDG_CACHE_HOME": "/x/cache", "HOME": "/home/u"}, nil, "/x/cache/notation-pkcs11/crl"},
		{"HOME", map[string]string{"HOME": "/home/u"}, nil, "/home/u/.cache/notation-pkcs11/crl"},
		{"relative XDG_CACHE_HOME is ignored", map[string]string{"XDG_CACHE_HOME": "rel", "HOME": "/home/u"}, nil, "/home/u/.cache/notation-pkcs11/crl"},
		{"relative HOME", map[string]string{"HOME": "rel"}, nil, ""},
		{"only NOTATION_CONFIG", map[string]string{"NOTATION_CONFIG": "/c"}, nil, ""},
		{"env.cacheDir wins", map[string]string{"HOME": "/home/u"}, fixed("/os/cache", nil), "/os/cache/notation-pkcs11/crl"},
		{"env.cacheDir fails", map[string]string{"HOME": "/home/u"}, fixed("", errors.New("no home")), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := env{getenv: func(k string) string { return c.vars[k] }, cacheDir: c.cacheDir}
			got, err := defaultCacheDir(e)
			if c.want == "" {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
			} else if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
			// verify and explain fall back to memory only.
			f := revocationFlags{ocspTimeout: time.Second, crlTimeout: time.Second}
			o, err := f.options(e, nil)
			if err != nil {
				t.Fatal(err)
			}
			if (c.want == "") != o.NoDiskCache || (c.want != "" && o.CacheDir != c.want) {
				t.Errorf("options: NoDiskCache=%v CacheDir=%q", o.NoDiskCache, o.CacheDir)
			}
			if o.ChainTimeout != 2*time.Second {
				t.Errorf("chain timeout %s, want the sum of the OCSP and CRL timeouts", o.ChainTimeout)
			}
		})
	}
}

// crlEnv is an env with only NOTATION_CONFIG, as the other in-process tests
// use, at a fixed time.
func crlEnv(config string, now time.Time) (env, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return env{stdout: &out, stderr: &errOut, now: func() time.Time { return now }, getenv: configOnly(config)}, &out, &errOut
}

func TestCRLUsage(t *testing.T) {
	w := newLocalWorld(t, goodPolicy)
	cache := t.TempDir()
	leaf := filepath.Join(pkiDir, "ec-256", "leaf.crt")
	cases := []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{"no subcommand", []string{"crl"}, exitUsage, "needs a subcommand: fetch, import, list"},
		{"unknown subcommand", []string{"crl", "purge"}, exitUsage, `unknown command "purge" for "trustpolicy crl"`},
		{"help", []string{"crl", "-h"}, exitVerified, "trustpolicy crl fetch --out ./carry chain.pem"},
		{"subcommand help", []string{"crl", "import", "--help"}, exitVerified, "--issuer file"},
		{"list takes no arguments", []string{"crl", "list", "--crl-cache", cache, "x"}, exitUsage, `unknown command "x" for "trustpolicy crl list"`},
		{"import needs files", []string{"crl", "import", "--crl-cache", cache}, exitUsage, "requires at least 1 arg(s)"},
		{"fetch needs inputs", []string{"crl", "fetch", "--crl-cache", cache}, exitUsage, "requires at least 1 arg(s)"},
		{"fetch timeout", []string{"crl", "fetch", "--crl-cache", cache, "--crl-timeout", "0s", "http://127.0.0.1:1/x.crl"}, exitUsage, "--crl-timeout"},
		{"fetch https", []string{"crl", "fetch", "--crl-cache", cache, "https://example.com/x.crl"}, exitUsage, "only http"},
		{"fetch a certificate without CDP", []string{"crl", "fetch", "--crl-cache", cache, leaf}, exitUsage, "no certificate in it names a CRL distribution point"},
		{"fetch a missing file", []string{"crl", "fetch", "--crl-cache", cache, filepath.Join(cache, "nope.pem")}, exitUsage, "no such file"},
		{"import a missing file", []string{"crl", "import", "--crl-cache", cache, filepath.Join(cache, "nope.crl")}, exitUsage, "no such file"},
		{"import a PEM without a CRL", []string{"crl", "import", "--crl-cache", cache, leaf}, exitUsage, `without an "X509 CRL" block`},
		{"no cache folder", []string{"crl", "list"}, exitUsage, "pass --crl-cache DIR"},
		{"bad output", []string{"crl", "list", "--crl-cache", cache, "--output", "yaml"}, exitUsage, "must be text or json"},
		{"flags after arguments", []string{"crl", "import", filepath.Join(cache, "nope.crl"), "--crl-cache", cache}, exitUsage, "no such file"},
		{"verify timeout", []string{"verify", "--ocsp-timeout", "-1s", "registry.example/app@" + w.digest}, exitUsage, "--ocsp-timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, out, errOut := crlEnv(w.config, time.Now())
			if code := run(context.Background(), c.args, e); code != c.want {
				t.Fatalf("exit %d, want %d\n%s%s", code, c.want, out, errOut)
			}
			if !strings.Contains(out.String()+errOut.String(), c.msg) {
				t.Errorf("output does not mention %q:\n%s%s", c.msg, out, errOut)
			}
		})
	}
}

// makeCRL signs a CRL with the test PKI's CA kind ("root" or
// "intermediate") of ec-256.
func makeCRL(t *testing.T, kind string, number int64, this, next time.Time, revoked ...*big.Int) []byte {
	t.Helper()
	certs, err := testpki.LoadCertificates(filepath.Join(pkiDir, "ec-256", kind+".crt"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := testpki.LoadSigner(filepath.Join(pkiDir, "ec-256", kind+".key"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: this, NextUpdate: next}
	for _, s := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: this, ReasonCode: 1})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, certs[0], key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestCRLImportAndList(t *testing.T) {
	w := newLocalWorld(t, goodPolicy)
	cache := t.TempDir()
	dir := t.TempDir()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rootCRL := write("root.crl", makeCRL(t, "root", 7, now.Add(-time.Hour), now.Add(24*time.Hour), big.NewInt(4242)))
	interPEM := write("inter.pem", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: makeCRL(t, "intermediate", 3, now.Add(-time.Hour), now.Add(time.Hour))}))
	expired := write("expired.crl", makeCRL(t, "root", 8, now.Add(-48*time.Hour), now.Add(-24*time.Hour)))
	garbage := write("garbage.crl", []byte("not a crl"))
	inter := filepath.Join(pkiDir, "ec-256", "intermediate.crt")

	step := func(args []string, want int, mention ...string) string {
		t.Helper()
		e, out, errOut := crlEnv(w.config, now)
		if code := run(context.Background(), args, e); code != want {
			t.Fatalf("%s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, errOut)
		}
		for _, m := range mention {
			if !strings.Contains(out.String()+errOut.String(), m) {
				t.Errorf("%s: output does not mention %q:\n%s%s", strings.Join(args, " "), m, out, errOut)
			}
		}
		return out.String()
	}
	step([]string{"crl", "list", "--crl-cache", cache}, exitVerified, "no CRLs cached")
	// The root is in the trust store: its CRL is accepted.
	step([]string{"crl", "import", "--crl-cache", cache, rootCRL}, exitVerified, "imported 1 CRL(s)", "Notation PKCS11 Test")
	// The intermediate is not: without --issuer its CRL has no anchored issuer.
	step([]string{"crl", "import", "--crl-cache", cache, interPEM}, exitFailed, "inter.pem", "issuer")
	step([]string{"crl", "import", "--crl-cache", cache, "--issuer", inter, interPEM}, exitVerified, "imported 1 CRL(s)")
	// An intermediate that does not chain to a trust store is not an issuer.
	other := newLocalWorld(t, goodPolicy)
	if err := os.RemoveAll(filepath.Join(other.config, "truststore", "x509", "ca", "test")); err != nil {
		t.Fatal(err)
	}
	e, out, errOut := crlEnv(other.config, now)
	if code := run(context.Background(), []string{"crl", "import", "--crl-cache", t.TempDir(), "--issuer", inter, interPEM}, e); code != exitUsage || !strings.Contains(errOut.String(), "no trust store certificate") {
		t.Errorf("import with an empty trust store: exit %d: %s%s", code, out, errOut)
	}
	step([]string{"crl", "import", "--crl-cache", cache, expired}, exitFailed, "expired")
	step([]string{"crl", "import", "--crl-cache", cache, garbage}, exitFailed, "garbage.crl")

	var list crlReport
	if err := json.Unmarshal([]byte(step([]string{"crl", "list", "--crl-cache", cache, "--output", "json"}, exitVerified)), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.CRLs) != 2 {
		t.Fatalf("cache lists %d CRLs, want 2: %+v", len(list.CRLs), list.CRLs)
	}
	for _, c := range list.CRLs {
		switch {
		case strings.Contains(c.Issuer, "Root"):
			if c.Number.Int64() != 7 || c.Entries != 1 || c.Source != "import "+rootCRL || c.Expired {
				t.Errorf("root CRL %+v", c)
			}
		default:
			if c.Number.Int64() != 3 || c.Entries != 0 || !strings.HasPrefix(c.Source, "import ") {
				t.Errorf("intermediate CRL %+v", c)
			}
		}
	}
	// Two hours later the intermediate's CRL is stale; list says so.
	e, out, _ = crlEnv(w.config, now.Add(2*time.Hour))
	if code := run(context.Background(), []string{"crl", "list", "--crl-cache", cache}, e); code != exitVerified || strings.Count(out.String(), "EXPIRED") != 1 {
		t.Errorf("list later: exit %d:\n%s", code, out)
	}
}
