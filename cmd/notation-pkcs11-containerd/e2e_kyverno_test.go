package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

// KyvernoEnv names the Kyverno CLI (kubectl-kyverno v1.19.1) that
// TestE2EKyvernoNotary runs. The test is opt-in: Kyverno's cold build
// takes 12 CPU-minutes (see docs/containerd.md), so make test does not
// build it.
const KyvernoEnv = "NOTATION_PKCS11_KYVERNO"

// TestE2EKyvernoNotary shows that Kyverno's Notary attestor (verifyImages
// type Notary, run by `kyverno apply --registry` without a cluster)
// accepts the plugin's COSE and JWS signatures, made by notation through
// the plugin with an EC P-256 key in SoftHSM, with only the test root as
// its certificate, and rejects an unsigned image and the signed image
// under another root.
func TestE2EKyvernoNotary(t *testing.T) {
	kyverno := os.Getenv(KyvernoEnv)
	if built := filepath.Join(os.Getenv("NOTATION_PKCS11_TOOLS_BIN"), "kyverno"); kyverno == "" && os.Getenv("NOTATION_PKCS11_TOOLS_BIN") != "" {
		if _, err := os.Stat(built); err == nil {
			kyverno = built // built by scripts/tools.sh kyverno (make e2e-kyverno)
		}
	}
	if kyverno == "" {
		// Opt-in even under CI: its cold build (16 minutes) does not fit
		// make test's budget; the reason checked is that no binary exists.
		t.Skipf("opt-in: set %s to a kubectl-kyverno v1.19.1 binary (docs/containerd.md says how to build it)", KyvernoEnv)
	}
	tools := e2e.ToolsT(t)
	reg := e2e.StartRegistryT(t, tools)
	signer := e2e.NewPluginSignerT(t, tools, "kyverno-e2e-pin")
	const pki = "../../testdata/pki/ec-256"
	uri := signer.ImportKey(t, filepath.Join(pki, "leaf.key"), "ec-256", []byte{0x4b, 1})

	images := map[string]string{}
	for _, name := range []string{"cose", "jws", "unsigned"} {
		repo := reg.Ref("kyverno/" + name)
		images[name] = repo + "@" + e2e.PushT(t, tools, repo+":v1", []byte("kyverno "+name))
		if name != "unsigned" {
			signer.Sign(t, uri, filepath.Join(pki, "chain.pem"), name, images[name])
		}
	}
	dir := t.TempDir()
	policy := func(root string) string {
		pem, err := os.ReadFile(filepath.Join("../../testdata/pki", root, "root.crt"))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, root+"-policy.yaml")
		write(t, p, []byte(kyvernoPolicy(reg.Addr(), string(pem))))
		return p
	}
	trusted, other := policy("ec-256"), policy("ec-384")

	for _, c := range []struct {
		name, policy, image string
		pass                bool
		want                string
	}{
		{"COSE signature through the plugin", trusted, images["cose"], true, "pass: 2, fail: 0"},
		{"JWS signature through the plugin", trusted, images["jws"], true, "pass: 2, fail: 0"},
		{"unsigned", trusted, images["unsigned"], false, "no signature is associated with"},
		{"signed, another root trusted", other, images["cose"], false, "unverified image"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Not t.TempDir: kyverno splits --resource at commas, and the
			// folder is named after the subtest.
			pod := filepath.Join(dir, strings.NewReplacer(" ", "-", ",", "", ";", "").Replace(c.name)+".yaml")
			write(t, pod, []byte(fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\n  namespace: default\nspec:\n  containers:\n  - name: app\n    image: %s\n", c.image)))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out, code := runKyverno(ctx, t, kyverno, "apply", c.policy, "--resource", pod, "--registry", "--remove-color")
			t.Logf("kyverno apply: exit %d\n%s", code, out)
			if (code == 0) != c.pass || !strings.Contains(out, c.want) {
				t.Errorf("exit %d, want pass=%v and %q in the output", code, c.pass, c.want)
			}
		})
	}
}

// kyvernoPolicy is a ClusterPolicy whose Notary attestor trusts rootPEM
// alone for every image of the registry at addr.
func kyvernoPolicy(addr, rootPEM string) string {
	var cert strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(rootPEM), "\n") {
		cert.WriteString("                  " + l + "\n")
	}
	return fmt.Sprintf(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: check-image-notary
spec:
  validationFailureAction: Enforce
  webhookTimeoutSeconds: 30
  rules:
    - name: verify-signature-notary
      match:
        any:
        - resources:
            kinds:
              - Pod
      verifyImages:
      - type: Notary
        imageReferences:
        - "%s/*"
        attestors:
        - count: 1
          entries:
          - certificates:
              cert: |-
%s`, addr, cert.String())
}

// runKyverno runs the Kyverno CLI with HOME and DOCKER_CONFIG of its own,
// so no developer credentials are read.
func runKyverno(ctx context.Context, t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, ".docker")}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("kyverno %s: %v", args[0], ctx.Err())
	}
	code := 0
	if err != nil {
		if cmd.ProcessState == nil {
			t.Fatalf("kyverno %s: %v", args[0], err)
		}
		code = cmd.ProcessState.ExitCode()
	}
	return string(out), code
}
