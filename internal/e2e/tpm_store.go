//go:build unix

package e2e

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The tpm2-pkcs11 store, prepared with tpm2_ptool. tpm2_ptool takes the
// PINs on its command line (its interface for setup): the harness keeps
// them out of every error it returns, and is for throw-away test tokens
// only (see the package documentation).

// TPMKeyAlgorithms are the tpm2_ptool addkey algorithms the tests use.
const (
	TPMECC256  = "ecc256"
	TPMECC384  = "ecc384"
	TPMRSA2048 = "rsa2048"
	TPMRSA3072 = "rsa3072"
)

// ptool runs tpm2_ptool with args; secrets are replaced by "***" in the
// error it returns.
func (t *TPM) ptool(ctx context.Context, secrets []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()
	out, err := runOK(ctx, t.toolEnv(), t.dir, t.tools.Ptool, args...)
	if err != nil {
		return "", errors.New(redact(err.Error(), secrets))
	}
	return out, nil
}

// redact replaces every non-empty secret in s with "***", longest first
// (a PIN may be part of another).
func redact(s string, secrets []string) string {
	secrets = slices.Clone(secrets)
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

// AddToken makes a token labelled label in the store: tpm2_ptool init (a
// primary key, once per store), then addtoken with the SO and user PINs.
func (t *TPM) AddToken(ctx context.Context, label, soPIN, userPIN string) error {
	if !t.storeReady {
		if _, err := t.ptool(ctx, nil, "init", "--path", t.StoreDir()); err != nil {
			return err
		}
		t.storeReady = true
	}
	_, err := t.ptool(ctx, []string{soPIN, userPIN}, "addtoken", "--pid=1", "--path", t.StoreDir(),
		"--label="+label, "--sopin="+soPIN, "--userpin="+userPIN)
	return err
}

// AddKey makes a key pair on token with tpm2_ptool addkey (algorithm one
// of TPMECC256, TPMECC384, TPMRSA2048, TPMRSA3072), labelled keyLabel,
// with CKA_ALWAYS_AUTHENTICATE when alwaysAuth is set. It returns the
// CKA_ID tpm2_ptool chose.
func (t *TPM) AddKey(ctx context.Context, token, userPIN, algorithm, keyLabel string, alwaysAuth bool) ([]byte, error) {
	args := []string{"addkey", "--path", t.StoreDir(), "--label=" + token, "--key-label=" + keyLabel,
		"--algorithm=" + algorithm, "--userpin=" + userPIN}
	if alwaysAuth {
		args = append(args, "--attr-always-authenticate")
	}
	out, err := t.ptool(ctx, []string{userPIN}, args...)
	if err != nil {
		return nil, err
	}
	return parsePtoolID(out)
}

// parsePtoolID reads the private key's CKA_ID from tpm2_ptool addkey's
// YAML output ("private:\n  CKA_ID: '6339...'").
func parsePtoolID(out string) ([]byte, error) {
	_, priv, ok := strings.Cut(out, "private:")
	if !ok {
		return nil, fmt.Errorf("e2e: tpm2_ptool addkey printed no private key: %q", out)
	}
	for _, l := range strings.Split(priv, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "CKA_ID:"); ok {
			id, err := hex.DecodeString(strings.Trim(strings.TrimSpace(v), "'\""))
			if err != nil || len(id) == 0 {
				return nil, fmt.Errorf("e2e: tpm2_ptool addkey: CKA_ID %q: %v", v, err)
			}
			return id, nil
		}
	}
	return nil, fmt.Errorf("e2e: tpm2_ptool addkey printed no CKA_ID: %q", out)
}

// RemoveToken deletes the token and its keys from the store
// (tpm2_ptool rmtoken), as if the token were taken away.
func (t *TPM) RemoveToken(ctx context.Context, label string) error {
	_, err := t.ptool(ctx, nil, "rmtoken", "--path", t.StoreDir(), "--label="+label)
	return err
}

// StartTPMT starts a [TPM] in a temporary folder and stops it in
// t.Cleanup (a failed stop is reported with t.Error). It ends the test
// (t.Fatal when [Required], else t.Skip) when a tool is missing.
func StartTPMT(t testing.TB) *TPM {
	t.Helper()
	tools, err := FindTPMTools()
	if err != nil {
		skipOrFatal(t, err.Error())
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tpm, err := StartTPM(ctx, tools, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tpm.Stop(); err != nil {
			t.Error(err)
		}
	})
	return tpm
}
