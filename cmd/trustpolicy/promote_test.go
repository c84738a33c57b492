package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/promote"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
)

func TestPromoteCommand(t *testing.T) {
	w := newBulkWorld(t)
	dst := servicetest.NewWritableRegistry(t)
	// DST asks for basic auth; --docker-config holds its credential.
	dst.Tamper(func(rw http.ResponseWriter, r *http.Request) bool {
		if u, p, ok := r.BasicAuth(); ok && u == "robot" && p == "pw-7788" {
			return false
		}
		rw.Header().Set("WWW-Authenticate", `Basic realm="prod"`)
		servicetest.WriteError(rw, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return true
	})
	cfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfg, []byte(`{"auths":{"`+dst.Host()+`":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("robot:pw-7788"))+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	good := w.signed(t, "app", "v1", "release")
	unsigned := w.reg.Ref("app@" + w.artifact("app", "unsigned", "nobody signed this").Digest.String())
	incon := w.signed(t, "incon", "v1", "inconclusive")
	p := func(args ...string) []string {
		return append([]string{"promote", "--plain-http", "--docker-config", cfg}, args...)
	}

	args := p(w.reg.Ref("app:v1"), dst.Ref("prod/app"))
	r := w.runBulk(t, args...)
	r.check(t, args, clitest.Want{Code: exitVerified, Secrets: []string{"pw-7788"}})
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	digest := good[strings.LastIndex(good, "@")+1:]
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "source: verified: ") || !strings.HasPrefix(lines[1], "copied: 1 manifests, ") ||
		!strings.HasPrefix(lines[2], "destination: verified: "+dst.Host()) || lines[3] != "promoted: "+dst.Ref("prod/app:v1")+" ("+digest+")" {
		t.Errorf("output:\n%s", r.stdout)
	}
	if string(dst.Tagged("prod/app", "v1")) != digest {
		t.Error("DST is not tagged")
	}

	args = p("--output", "json", w.reg.Ref("app:unsigned"), dst.Ref("prod/app:unsigned"))
	r = w.runBulk(t, args...)
	r.check(t, args, clitest.Want{Code: exitFailed, JSON: true})
	var res promote.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Schema != promote.Schema || res.Promoted || !strings.Contains(res.Error, "not verified") {
		t.Errorf("JSON %v: %+v", err, res)
	}
	if dst.Tagged("prod/app", "unsigned") != "" {
		t.Error("an unsigned artifact was promoted")
	}

	args = p(unsigned, dst.Ref("prod/app"))
	r = w.runBulk(t, args...)
	r.check(t, args, clitest.Want{Code: exitFailed, ErrorLine: true})
	if !strings.HasPrefix(r.stdout, "source: failed: ") || !strings.Contains(r.stderr, "trustpolicy promote: error: not verified: ") {
		t.Errorf("unsigned:\n%s%s", r.stdout, r.stderr)
	}
	args = p(incon, dst.Ref("prod/incon"))
	r = w.runBulk(t, args...)
	r.check(t, args, clitest.Want{Code: exitInconclusive, ErrorLine: true})

	// Without DST's credential: the copy is refused with the login fix.
	args = []string{"promote", "--plain-http", good, dst.Ref("prod/other")}
	r = w.runIn(t, nil, args...)
	r.check(t, args, clitest.Want{Code: exitFailed, ErrorLine: true})
	if !strings.Contains(r.stderr, "docker login "+dst.Host()) {
		t.Errorf("no login fix: %s", r.stderr)
	}

	usage := clitest.Want{Code: exitUsage, ErrorLine: true}
	for _, c := range []struct {
		args []string
		want string
	}{
		{p(w.reg.Ref("app:v1")), "accepts 2 arg(s)"},
		{p(w.reg.Ref("app:v1"), "prod/app"), "DST: "},
		{p("app:v1", dst.Ref("prod/app")), "SRC: "},
		{p("oci-layout:/tmp/l:v1", dst.Ref("prod/app")), "oras copy --from-oci-layout"},
		{p(w.reg.Ref("app:v1"), dst.Ref("prod/app@sha256:"+strings.Repeat("0", 64))), "invalid destination"},
		{[]string{"promote", "--docker-config", filepath.Join(t.TempDir(), "missing"), w.reg.Ref("app:v1"), dst.Ref("prod/app")}, "--docker-config"},
		{p("--nope", w.reg.Ref("app:v1"), dst.Ref("prod/app")), "run 'trustpolicy promote -h' for usage"},
	} {
		r := w.runBulk(t, c.args...)
		r.check(t, c.args, usage)
		if !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: stderr lacks %q: %s", c.args, c.want, r.stderr)
		}
	}
}
