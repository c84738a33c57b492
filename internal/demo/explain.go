package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

// The last steps run the project's own verifier, trustpolicy, against the
// same notation configuration: a verified artifact, an unsigned one and a
// tampered signature, each with its explanation.

// explainSigned is step 9.
func (d *demo) explainSigned(ctx context.Context) error {
	out, err := d.trustpolicy(ctx, 0, "explain", "--plain-http", d.ref)
	if err != nil {
		return err
	}
	d.say(9, "Explained the verdict with trustpolicy (notation's semantics, every check and the chain):")
	d.indent(out)
	return nil
}

// explainUnsigned is step 10: an artifact nobody signed.
func (d *demo) explainUnsigned(ctx context.Context) error {
	digest, err := e2e.Push(ctx, d.opts.Tools.Oras, d.reg.Ref("demo/hello:unsigned"), filepath.Join(d.dir, "unsigned"),
		[]byte("an artifact nobody signed\n"))
	if err != nil {
		return err
	}
	out, err := d.trustpolicy(ctx, 1, "explain", "--plain-http", d.reg.Ref("demo/hello@"+digest))
	if err != nil {
		return err
	}
	d.say(10, "Pushed an unsigned artifact; trustpolicy refuses it and says why (exit code 1):")
	d.indent(out)
	return nil
}

// explainTampered is step 11: the signature fetched with oras, one byte
// changed, and verified in local mode against the artifact's descriptor.
func (d *demo) explainTampered(ctx context.Context) error {
	dir := filepath.Join(d.dir, "tampered")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	descriptor, err := d.oras(ctx, "manifest", "fetch", "--plain-http", "--descriptor", d.ref)
	if err != nil {
		return err
	}
	descFile := filepath.Join(dir, "descriptor.json")
	if err := os.WriteFile(descFile, []byte(descriptor), 0o600); err != nil {
		return err
	}
	manifest, err := d.oras(ctx, "manifest", "fetch", "--plain-http", d.sigRef)
	if err != nil {
		return err
	}
	var m struct {
		Layers []struct {
			MediaType string `json:"mediaType"`
			Digest    string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal([]byte(manifest), &m); err != nil || len(m.Layers) != 1 {
		return fmt.Errorf("signature manifest %s is not a Notary Project signature (%v):\n%s", d.sigRef, err, manifest)
	}
	sigFile := filepath.Join(dir, "signature.cose")
	repo, _, _ := strings.Cut(d.sigRef, "@")
	if _, err := d.oras(ctx, "blob", "fetch", "--plain-http", "--output", sigFile, repo+"@"+m.Layers[0].Digest); err != nil {
		return err
	}
	envelope, err := os.ReadFile(sigFile)
	if err != nil || len(envelope) == 0 {
		return fmt.Errorf("reading the fetched signature %s: %v", sigFile, err)
	}
	envelope[len(envelope)-1] ^= 0x01 // the last byte belongs to the signature value
	if err := os.WriteFile(sigFile, envelope, 0o600); err != nil {
		return err
	}
	out, err := d.trustpolicy(ctx, 1, "explain", "--signature", sigFile, "--media-type", m.Layers[0].MediaType,
		"--descriptor", descFile, "--reference", d.ref)
	if err != nil {
		return err
	}
	d.say(11, "Fetched the signature with oras, changed one byte, and verified it locally (exit code 1):")
	d.fact("commands", "oras manifest fetch --descriptor REF > descriptor.json; oras blob fetch --output signature.cose REPO@LAYER")
	d.indent(out)
	return nil
}

// trustpolicy runs the trustpolicy binary on notation's configuration and
// requires exit code want.
func (d *demo) trustpolicy(ctx context.Context, want int, args ...string) (string, error) {
	conf := d.not.ConfigDir()
	args = append(args, "--policy", filepath.Join(conf, "trustpolicy.json"),
		"--truststore", filepath.Join(conf, "truststore"), "--no-disk-cache")
	cmd := exec.CommandContext(ctx, d.opts.Verify, args...)
	cmd.Env = d.toolEnv()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		return "", fmt.Errorf("trustpolicy %s: %w", args[0], err)
	}
	if code != want {
		return "", fmt.Errorf("trustpolicy %s exited %d, want %d:\n%s", strings.Join(args, " "), code, want,
			strings.TrimSpace(stdout.String()+"\n"+stderr.String()))
	}
	return stdout.String(), nil
}

// oras runs the oras CLI with the demo's own (empty) docker config.
func (d *demo) oras(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, d.opts.Tools.Oras, args...)
	cmd.Env = d.toolEnv()
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return "", fmt.Errorf("oras %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(exit.Stderr)))
		}
		return "", fmt.Errorf("oras %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// toolEnv is the environment of oras and trustpolicy: no PIN, and a docker
// config of the demo's own so the user's registry credentials are never read.
func (d *demo) toolEnv() []string {
	env := []string{"DOCKER_CONFIG=" + filepath.Join(d.dir, "docker-config"), "NO_COLOR=1"}
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func (d *demo) indent(out string) {
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		fmt.Fprintf(d.out, "      %s\n", line)
	}
}
