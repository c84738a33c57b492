package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// CopyToLayout copies ref (HOST:PORT/REPO@DIGEST or :TAG) and its
// referrers (its signatures) from the registry into the OCI image layout
// folder dir, tagged tag, the way an air-gapped transfer does:
// "oras copy -r --from-plain-http REF --to-oci-layout DIR:TAG", run in
// workDir with a docker configuration of its own.
func CopyToLayout(ctx context.Context, orasBin, ref, dir, tag, workDir string) error {
	if err := os.MkdirAll(workDir, 0o700); err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	env := append(baseEnv(), "DOCKER_CONFIG="+filepath.Join(workDir, "docker-config"))
	_, err := runOK(ctx, env, workDir, orasBin, "copy", "-r", "--from-plain-http", ref, "--to-oci-layout", dir+":"+tag)
	return err
}

// JUnitCase is one testcase of a JUnit XML report as a JUnit consumer
// read it.
type JUnitCase struct {
	Name      string `json:"name"`
	Classname string `json:"classname"`
	// Result is "passed", "failure", "error" or "skipped".
	Result  string `json:"result"`
	Message string `json:"message"`
}

// JUnitReport is a JUnit XML report as a JUnit consumer read it.
type JUnitReport struct {
	Tests    int         `json:"tests"`
	Failures int         `json:"failures"`
	Errors   int         `json:"errors"`
	Skipped  int         `json:"skipped"`
	Cases    []JUnitCase `json:"cases"`
}

// junitScript reads a report with junitparser and prints what it read as
// JSON.
const junitScript = `
import json, sys
from junitparser import JUnitXml, Failure, Error, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
out = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "cases": []}
for suite in xml:
    out["tests"] += suite.tests
    out["failures"] += suite.failures
    out["errors"] += suite.errors
    out["skipped"] += suite.skipped
    for case in suite:
        result, message = "passed", ""
        for r in case.result:
            result = {Failure: "failure", Error: "error", Skipped: "skipped"}.get(type(r), "other")
            message = r.message or ""
        out["cases"].append({"name": case.name, "classname": case.classname, "result": result, "message": message})
json.dump(out, sys.stdout)
`

// ReadJUnitT reads the JUnit XML report at path with junitparser, the
// Python JUnit library CI tools use (Debian's python3-junitparser), and
// returns what it read. It ends the test when no python3 with junitparser
// is installed: t.Fatal when [Required], else t.Skip.
func ReadJUnitT(t testing.TB, path string) JUnitReport {
	t.Helper()
	var py string
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import junitparser").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		skipOrFatal(t, "no python3 with junitparser (apt-get install python3-junitparser), so the JUnit report cannot be read by a JUnit consumer")
	}
	out, err := exec.Command(py, "-c", junitScript, path).Output()
	if err != nil {
		t.Fatalf("junitparser could not read %s: %v", path, err)
	}
	var r JUnitReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("junitparser output %q: %v", out, err)
	}
	return r
}
