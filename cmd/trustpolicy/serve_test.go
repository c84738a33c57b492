package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/admission"
	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
)

// TestServeContract: serve's bad input is exit 2 with one error line
// naming the flag and file (and a fix that works as printed), a port in
// use is exit 1, and help documents the exit codes.
func TestServeContract(t *testing.T) {
	w := newServeWorld(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.crt")
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("\x1b[2Kgarbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken")
	if err := os.MkdirAll(filepath.Join(broken, "truststore"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "trustpolicy.json"), []byte(`{"version":"1.0","trustPolicies":[{"name":"x","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:none"],"trustedIdentities":["*"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	inUse, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inUse.Close()
	pki := w.pki
	tlsArgs := []string{"--tls-cert", pki.serverCert, "--tls-key", pki.serverKey}
	usage := clitest.Want{Code: exitUsage, ErrorLine: true}
	cases := []struct {
		args []string
		want clitest.Want
		has  string
	}{
		{[]string{"serve", "-h"}, clitest.Want{Code: 0}, "Exit codes:"},
		{[]string{"serve", "--nope"}, usage, "run 'trustpolicy serve -h' for usage"},
		{[]string{"serve"}, usage, "serve needs --tls-cert and --tls-key"},
		{[]string{"serve", "--tls-cert", missing, "--tls-key", pki.serverKey}, usage, "--tls-cert: open " + missing},
		{[]string{"serve", "--tls-cert", garbage, "--tls-key", pki.serverKey}, usage, "--tls-cert " + garbage + " and --tls-key " + pki.serverKey},
		{append([]string{"serve", "--client-ca", pki.serverKey}, tlsArgs...), usage, "--client-ca " + pki.serverKey + ": no PEM certificate"},
		{append([]string{"serve", "--timeout", "0s"}, tlsArgs...), usage, "--timeout must be positive"},
		{append([]string{"serve", "--max-queue", "0"}, tlsArgs...), usage, "--max-queue must be positive"},
		{append([]string{"serve", "--docker-config", missing}, tlsArgs...), usage, "--docker-config: open " + missing},
		{append([]string{"serve", "--policy", filepath.Join(broken, "trustpolicy.json"), "--truststore", filepath.Join(broken, "truststore")}, tlsArgs...), usage, "fix: trustpolicy lint --policy "},
		{append([]string{"serve", "--output", "json", "--policy", missing}, tlsArgs...), clitest.Want{Code: exitUsage, ErrorLine: true, JSON: true}, `"kind": "usage"`},
		{append([]string{"serve", "--listen", inUse.Addr().String()}, tlsArgs...), clitest.Want{Code: exitFailed, ErrorLine: true}, "--listen " + inUse.Addr().String()},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, stdout, stderr := runWithConfig(context.Background(), w.config, func() time.Time { return serveNow }, c.args...)
			if err := clitest.Check(clitest.Run{Args: c.args, Stdout: stdout, Stderr: stderr, Code: code}, c.want); err != nil {
				t.Error(err)
			}
			if !strings.Contains(stdout+stderr, c.has) {
				t.Errorf("output lacks %q:\n%s%s", c.has, stdout, stderr)
			}
			// The fix runs as printed and lists the problem.
			if _, fix, ok := strings.Cut(stderr, "trustpolicy serve: fix: "); ok {
				args := strings.Fields(strings.TrimSpace(fix))
				if args[0] != "trustpolicy" {
					t.Fatalf("fix %q is not a trustpolicy command", fix)
				}
				code, out, errOut := runWithConfig(context.Background(), w.config, time.Now, args[1:]...)
				if code != exitFailed || !strings.Contains(out, "ca/none") {
					t.Errorf("the fix %q: exit %d\n%s%s", fix, code, out, errOut)
				}
			}
		})
	}
}

// TestServeTLS: HTTPS only, TLS 1.3, and with --client-ca only clients
// holding a certificate it issued are answered; then SIGTERM's context
// ends the server cleanly (exit 0).
func TestServeTLS(t *testing.T) {
	w := newServeWorld(t)
	s := w.startServe(t, w.tlsArgs()...)
	pki := w.pki
	resp, err := ask(serveClient(pki.caPool, pki.clientPair), s.url, w.signed, w.unsigned, "nginx@sha256:zz")
	if err != nil {
		t.Fatal(err)
	}
	items := resp.Response.Items
	if resp.Response.SystemError != "" || len(items) != 3 || items[0].Error != "" || !strings.Contains(items[1].Error, "no signature is associated") || !strings.Contains(items[2].Error, "digest") {
		t.Fatalf("%+v", resp)
	}
	refused := []struct {
		name   string
		client *http.Client
		want   string
	}{
		{"no client certificate", serveClient(pki.caPool), "certificate required"},
		{"client certificate of another CA", serveClient(pki.caPool, pki.otherClientPair), "unknown certificate authority"},
		{"server not in the caBundle", serveClient(pki.otherPool, pki.clientPair), "certificate signed by unknown authority"},
		{"TLS 1.2", &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MaxVersion: tls.VersionTLS12, RootCAs: pki.caPool, Certificates: []tls.Certificate{pki.clientPair}}}}, "protocol version"},
	}
	for _, c := range refused {
		if _, err := ask(c.client, s.url, w.signed); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want refused with %q", c.name, err, c.want)
		}
	}
	if r, err := http.Get(strings.Replace(s.url, "https://", "http://", 1) + "/healthz"); err == nil {
		r.Body.Close()
		if r.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP answered %d", r.StatusCode)
		}
	}
	s.stop()
	if code := s.wait(); code != 0 || !strings.Contains(s.log.String(), "msg=stopped") {
		t.Errorf("exit %d after SIGTERM's cancel:\n%s", code, s.log)
	}
}

// TestServeGracefulShutdown: a request in flight when SIGTERM arrives is
// answered before the server exits 0.
func TestServeGracefulShutdown(t *testing.T) {
	w := newServeWorld(t)
	entered, release := make(chan struct{}), make(chan struct{})
	w.reg.Tamper(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodHead {
			close(entered)
			<-release
		}
		return false
	})
	s := w.startServe(t, w.tlsArgs()...)
	type result struct {
		resp *admission.ProviderResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		r, err := ask(serveClient(w.pki.caPool, w.pki.clientPair), s.url, w.signed)
		done <- result{r, err}
	}()
	<-entered
	s.stop()
	for !strings.Contains(s.log.String(), "msg=\"shutting down\"") {
		runtime.Gosched()
	}
	close(release)
	r := <-done
	if r.err != nil || len(r.resp.Response.Items) != 1 || r.resp.Response.Items[0].Error != "" {
		t.Fatalf("the request in flight: %+v %v", r.resp, r.err)
	}
	if code := s.wait(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestServeSIGHUP: SIGHUP reloads the policy (here, one that no longer
// trusts the signer), with file watching effectively off.
func TestServeSIGHUP(t *testing.T) {
	w := newServeWorld(t)
	s := w.startServe(t, append(w.tlsArgs(), "--reload-interval", "1h")...)
	c := serveClient(w.pki.caPool, w.pki.clientPair)
	if resp, err := ask(c, s.url, w.signed); err != nil || resp.Response.Items[0].Error != "" {
		t.Fatalf("%+v %v", resp, err)
	}
	policy := strings.Replace(servePolicy, `"trustedIdentities":["*"]`, `"trustedIdentities":["x509.subject: C=US, ST=WA, O=Someone Else"]`, 1)
	if err := os.WriteFile(filepath.Join(w.config, "trustpolicy.json"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(s.log.String(), "generation=2") {
		runtime.Gosched()
	}
	resp, err := ask(c, s.url, w.signed)
	if err != nil || !strings.Contains(resp.Response.Items[0].Error, "Someone Else") {
		t.Fatalf("after SIGHUP: %+v %v", resp, err)
	}
}

// TestServeDockerConfig: registry credentials from --docker-config (an
// imagePullSecret's .dockerconfigjson).
func TestServeDockerConfig(t *testing.T) {
	w := newServeWorld(t)
	const user, pass = "puller", "s3cret"
	w.reg.Tamper(func(rw http.ResponseWriter, r *http.Request) bool {
		if u, p, ok := r.BasicAuth(); ok && u == user && p == pass {
			return false
		}
		rw.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		rw.WriteHeader(http.StatusUnauthorized)
		return true
	})
	cfg := filepath.Join(t.TempDir(), ".dockerconfigjson")
	doc, _ := json.Marshal(map[string]any{"auths": map[string]any{w.reg.Host(): map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}}})
	if err := os.WriteFile(cfg, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	c := serveClient(w.pki.caPool, w.pki.clientPair)
	without := w.startServe(t, w.tlsArgs()...)
	if resp, err := ask(c, without.url, w.signed); err != nil || resp.Response.Items[0].Error == "" {
		t.Fatalf("without credentials: %+v %v", resp, err)
	}
	with := w.startServe(t, append(w.tlsArgs(), "--docker-config", cfg)...)
	resp, err := ask(c, with.url, w.signed)
	if err != nil || resp.Response.Items[0].Error != "" {
		t.Fatalf("with --docker-config: %+v %v", resp, err)
	}
	if strings.Contains(with.log.String()+without.log.String(), pass) {
		t.Error("the password reached the log")
	}
}
