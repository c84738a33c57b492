package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/bulk"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/servicetest"
)

// TestBulkVerify: many references in one run, every verdict and its exit
// code, text and JSON Lines.
func TestBulkVerify(t *testing.T) {
	w := newBulkWorld(t)
	good := w.signed(t, "app", "v1", "one")
	good2 := w.signed(t, "app", "v2", "two")
	unsigned := w.reg.Ref("app@" + w.artifact("app", "v3", "three").Digest.String())
	skipped := w.reg.Ref("skip@" + w.artifact("skip", "v1", "skipped").Digest.String())
	incon := w.signed(t, "incon", "v1", "inconclusive")
	byTag := w.reg.Ref("app:v2")

	cases := []struct {
		name  string
		refs  []string
		code  int
		lines []string // a substring of each artifact's line
	}{
		{"all verified", []string{good, good2}, exitVerified, []string{"verified: ", "verified: "}},
		{"skip counts as passing", []string{good, skipped}, exitVerified, []string{"verified: ", "skipped: "}},
		{"one failed", []string{good, unsigned, good2}, exitFailed, []string{"verified: ", "failed: " + w.reg.Ref("app"), "verified: "}},
		{"inconclusive, none failed", []string{good, incon}, exitInconclusive, []string{"verified: ", "inconclusive: "}},
		{"failed beats inconclusive", []string{incon, unsigned}, exitFailed, []string{"inconclusive: ", "failed: "}},
		{"by tag names the tag and the digest", []string{byTag, good}, exitVerified, []string{byTag + " -> verified: ", "verified: "}},
		{"not found", []string{w.reg.Ref("app:nope"), good}, exitFailed, []string{"failed: " + w.reg.Ref("app:nope") + ": resolve", "verified: "}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"verify", "--plain-http"}, c.refs...)
			r := w.runBulk(t, args...)
			r.check(t, args, clitest.Want{Code: c.code})
			lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
			if len(lines) != len(c.refs)+1 {
				t.Fatalf("%d lines, want one per artifact and the summary:\n%s", len(lines), r.stdout)
			}
			for i, want := range c.lines {
				if !strings.Contains(lines[i], want) || len([]rune(lines[i])) > 2*trustpolicy.MaxBriefLen {
					t.Errorf("line %d %q lacks %q", i, lines[i], want)
				}
			}
			if !strings.HasPrefix(lines[len(lines)-1], strings.TrimSpace(strings.Split("2 artifacts: |3 artifacts: ", "|")[len(c.refs)-2])) {
				t.Errorf("summary %q", lines[len(lines)-1])
			}
			if (c.name == "by tag names the tag and the digest") != strings.Contains(r.stderr, "Warning: 1 of 2 artifacts were named by tag") {
				t.Errorf("stderr %q", r.stderr)
			}

			args = append(args, "--output", "json")
			r = w.runBulk(t, args...)
			r.check(t, args, clitest.Want{Code: c.code, JSONLines: true})
			recs, sum := jsonLines(t, r.stdout)
			if len(recs) != len(c.refs) || sum.Total != len(c.refs) || sum.ExitCode != c.code {
				t.Fatalf("%d records, summary %+v", len(recs), sum)
			}
			for i, rec := range recs {
				if rec.Reference != c.refs[i] || rec.Source != "argument "+string(rune('1'+i)) {
					t.Errorf("record %d: %s from %s", i, rec.Reference, rec.Source)
				}
				if rec.Result != nil && (rec.Digest == "" || !strings.HasSuffix(rec.Result.Reference, rec.Digest) || rec.Result.Verdict != rec.Verdict) {
					t.Errorf("record %d: digest %q, result %+v", i, rec.Digest, rec.Result)
				}
			}
		})
	}
}

// TestBulkSingleRefUnchanged: one REF prints today's one line (no summary)
// and --output json today's single report.
func TestBulkSingleRefUnchanged(t *testing.T) {
	w := newBulkWorld(t)
	good := w.signed(t, "app", "v1", "one")
	r := w.runBulk(t, "verify", "--plain-http", good)
	if r.code != exitVerified || strings.Count(r.stdout, "\n") != 1 || !strings.HasPrefix(r.stdout, "verified: ") || r.stderr != "" {
		t.Errorf("single REF: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = w.runBulk(t, "verify", "--plain-http", "--output", "json", good)
	r.check(t, nil, clitest.Want{Code: exitVerified, JSON: true})
	if !strings.Contains(r.stdout, `"schema": "1"`) {
		t.Errorf("single REF JSON is not the report:\n%s", r.stdout)
	}
}

// TestBulkInputs: --from FILE and stdin with comments, --all-tags, a
// reference given twice, and bad input named by argument or line (exit
// 2).
func TestBulkInputs(t *testing.T) {
	w := newBulkWorld(t)
	good := w.signed(t, "app", "v1", "one")
	w.signed(t, "app", "v2", "two")
	w.artifact("app", "v3", "unsigned")
	dir := t.TempDir()
	list := filepath.Join(dir, "release.txt")
	if err := os.WriteFile(list, []byte("# release 1.0\n\n"+good+"\n  "+w.reg.Ref("app:v2")+"  \n# end\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte(good+"\n# ok\nnot-a-registry/app:v1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := w.runBulk(t, "verify", "--plain-http", "--from", list)
	if r.code != exitVerified || !strings.Contains(r.stdout, "2 artifacts: 2 verified") {
		t.Errorf("--from FILE: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = w.runIn(t, strings.NewReader(good+"\n"+good+"\n"), "verify", "--plain-http", "--from", "-", good)
	if r.code != exitVerified || !strings.Contains(r.stdout, "3 artifacts: 3 verified") {
		t.Errorf("--from - with a repeated reference: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = w.runBulk(t, "verify", "--plain-http", "--output", "json", "--all-tags", w.reg.Ref("app"))
	recs, sum := jsonLines(t, r.stdout)
	if r.code != exitFailed || sum.Verified != 2 || sum.Failed != 1 || len(recs) != 3 || recs[2].Reference != w.reg.Ref("app:v3") || recs[2].Source != "tag v3 of "+w.reg.Ref("app") {
		t.Errorf("--all-tags: exit %d, %+v\n%s", r.code, sum, r.stdout)
	}

	usage := clitest.Want{Code: exitUsage, ErrorLine: true}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", bad}, bad + ":3: \"not-a-registry/app:v1\""},
		// The list is checked before the policy is read.
		{[]string{"--from", bad, "--policy", filepath.Join(dir, "missing")}, bad + ":3: "},
		{[]string{"--from", filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"--from", dir}, "is a folder"},
		{[]string{good, "app:v1"}, `argument 2 "app:v1"`},
		{[]string{good, "--report", "xml=out.xml"}, `want junit=FILE`},
		{[]string{good, "--report", "junit=" + filepath.Join(dir, "no", "such", "dir.xml")}, "--report junit="},
		{[]string{good, "--jobs", "0"}, "--jobs must be at least 1"},
		{[]string{good, "--per-registry", "0"}, "--per-registry must be at least 1"},
		{[]string{good, "--platforms", "linux"}, "--platforms"},
		{[]string{"--all-tags", w.reg.Ref("app:v1")}, "without a tag or digest"},
		{[]string{"--all-tags", "oci-layout:" + dir}, "--scope"},
		{[]string{good, "oci-layout:" + dir + ":v1"}, "--scope"},
		{[]string{"--scope", "r.example/app", good, "oci-layout:" + filepath.Join(dir, "missing") + ":v1"}, "invalid OCI image layout"},
		{[]string{"--signature", list, "--from", list}, "local mode verifies one envelope"},
		{[]string{"--from", "-"}, "no artifact to verify"},
	} {
		args := append([]string{"verify", "--plain-http"}, c.args...)
		r := w.runIn(t, strings.NewReader("# nothing\n"), args...)
		r.check(t, args, usage)
		if !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: stderr lacks %q: %s", c.args, c.want, r.stderr)
		}
	}
}

// junitDoc is the part of a JUnit report CI dashboards read.
type junitDoc struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Skipped  int `xml:"skipped,attr"`
	Suites   []struct {
		Cases []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestBulkJUnit(t *testing.T) {
	w := newBulkWorld(t)
	good := w.signed(t, "app", "v1", "one")
	unsigned := w.reg.Ref("app:v2")
	w.artifact("app", "v2", "unsigned")
	report := filepath.Join(t.TempDir(), "verify.xml")
	r := w.runBulk(t, "verify", "--plain-http", "--report", "junit="+report, good, unsigned, w.reg.Ref("skip:x"))
	if r.code != exitFailed {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 3 || doc.Failures != 2 || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 3 {
		t.Fatalf("report %+v\n%s", doc, data)
	}
	lines := strings.Split(r.stdout, "\n")
	cases := doc.Suites[0].Cases
	if cases[1].Name != unsigned || cases[1].Failure == nil || !strings.HasSuffix(lines[1], cases[1].Failure.Message) || cases[0].Failure != nil {
		t.Errorf("cases %+v; the failure message must be the line's brief %q", cases, lines[1])
	}
}

// TestBulkPlatforms: --platforms on an index whose platforms are signed
// on their own.
func TestBulkPlatforms(t *testing.T) {
	w := newBulkWorld(t)
	amd, arm := w.artifact("multi", "", "amd64"), w.artifact("multi", "", "arm64")
	amd.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	arm.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	w.sign(t, "multi", amd)
	w.reg.PutManifest("multi", "v1", ocispec.MediaTypeImageIndex, servicetest.ImageIndex([]ocispec.Descriptor{amd, arm}))
	ref := w.reg.Ref("multi:v1")
	r := w.runBulk(t, "verify", "--plain-http", "--platforms", "linux/amd64", ref)
	if r.code != exitVerified || !strings.Contains(r.stdout, "\n  linux/amd64 sha256:") || !strings.Contains(r.stdout, "covered by its own signature") {
		t.Errorf("one platform: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = w.runBulk(t, "verify", "--plain-http", "--platforms", "all", "--output", "json", ref)
	recs, _ := jsonLines(t, r.stdout)
	if r.code != exitFailed || len(recs) != 1 || len(recs[0].Platforms) != 2 || recs[0].Platforms[1].CoveredBy != bulk.CoveredByNone {
		t.Errorf("all platforms: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestBulkInterrupted: a run whose context ends (Ctrl-C) reports what was
// not verified and exits 1; under --output json stdout stays JSON Lines
// (the summary says notRun) and the error is one line on stderr.
func TestBulkInterrupted(t *testing.T) {
	w := newBulkWorld(t)
	refs := []string{w.signed(t, "app", "v1", "one"), w.signed(t, "app", "v2", "two")}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, json := range []bool{false, true} {
		args := append([]string{"verify", "--plain-http"}, refs...)
		if json {
			args = append(args, "--output", "json")
		}
		var out, errOut bytes.Buffer
		code := run(ctx, args, env{stdout: &out, stderr: &errOut, getenv: configOnly(w.config), now: time.Now})
		r := runResult{code, out.String(), errOut.String()}
		r.check(t, args, clitest.Want{Code: exitFailed, ErrorLine: true, JSONLines: json})
		if !strings.Contains(r.stderr, "interrupted: 2 of 2 artifacts not verified") {
			t.Errorf("stderr %q", r.stderr)
		}
		if json {
			if _, sum := jsonLines(t, r.stdout); sum.NotRun != 2 || sum.ExitCode != exitFailed {
				t.Errorf("summary %+v", sum)
			}
		}
	}
}
