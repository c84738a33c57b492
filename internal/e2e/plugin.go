package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// PluginPackage is the import path of the plugin command.
const PluginPackage = "github.com/notation-pkcs11/notation-pkcs11/cmd/notation-pkcs11"

// BuildPlugin builds the plugin command into dir and returns its path. The
// Go build cache makes a second build cheap.
func BuildPlugin(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "notation-pkcs11")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, PluginPackage)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("e2e: go build %s: %w\n%s", PluginPackage, err, b)
	}
	return out, nil
}

// PluginSigner is a SoftHSM token with test keys imported and a notation home
// with the project's plugin installed, ready for
// `notation sign --plugin pkcs11 --id URI --plugin-config certificate_chain=FILE`.
type PluginSigner struct {
	HSM      *SoftHSM
	Notation *Notation
	Token    string
	pin      string
}

// NewPluginSignerT initialises a token, builds and installs the plugin into a
// fresh notation home and returns them. The PIN reaches the plugin through
// NOTATION_PKCS11_PIN in notation's environment, never through argv.
func NewPluginSignerT(t testing.TB, tools Tools, pin string) *PluginSigner {
	t.Helper()
	hsm := NewSoftHSMT(t)
	const token = "signing"
	if err := hsm.InitToken(token, "so-"+pin, pin); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := BuildPlugin(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n := NewNotationT(t, tools, append(hsm.Env(),
		"NOTATION_PKCS11_PIN="+pin,
		"NOTATION_PKCS11_MODULE="+hsm.Module(),
		"NOTATION_PKCS11_CACHE="+t.TempDir())...)
	if _, errOut, code, err := n.Run(ctx, "plugin", "install", "--file", bin); err != nil || code != 0 {
		t.Fatalf("notation plugin install: exit %d, %v: %s", code, err, errOut)
	}
	return &PluginSigner{HSM: hsm, Notation: n, Token: token, pin: pin}
}

// ImportKey puts the PEM private key at keyPath on the token under label and
// returns the key's PKCS#11 URI (without any PIN).
func (p *PluginSigner) ImportKey(t testing.TB, keyPath, label string, id []byte) string {
	t.Helper()
	if err := p.HSM.ImportKey(p.Token, p.pin, keyPath, label, id); err != nil {
		t.Fatal(err)
	}
	return "pkcs11:token=" + p.Token + ";object=" + label
}

// Sign signs ref with the key at uri and the PEM chain at chainPath (made
// absolute), in format "cose" or "jws"; extra arguments go before ref.
func (p *PluginSigner) Sign(t testing.TB, uri, chainPath, format, ref string, extra ...string) {
	t.Helper()
	abs, err := filepath.Abs(chainPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatal(err)
	}
	args := []string{"sign", "--insecure-registry", "--signature-format", format,
		"--plugin", "pkcs11", "--id", uri, "--plugin-config", "certificate_chain=" + abs}
	args = append(append(args, extra...), ref)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, code, err := p.Notation.Run(ctx, args...)
	if err != nil || code != 0 {
		t.Fatalf("notation sign (plugin, %s): exit %d, %v\nstdout: %s\nstderr: %s", format, code, err, out, errOut)
	}
}
