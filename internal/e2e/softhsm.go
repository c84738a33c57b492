package e2e

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// DefaultSoftHSMModule is the Debian path of the SoftHSM2 PKCS#11 module.
const DefaultSoftHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// SoftHSM is a SoftHSM2 configuration with a token folder of its own.
// PINs given to its methods travel on softhsm2-util's command line: use it
// only for throw-away test tokens (see the package documentation).
type SoftHSM struct {
	dir string
}

// NewSoftHSM writes dir/softhsm2.conf (tokens in dir/tokens, file object
// store, log level ERROR) and creates the tokens folder.
func NewSoftHSM(dir string) (*SoftHSM, error) {
	h := &SoftHSM{dir: dir}
	if err := os.MkdirAll(h.TokenDir(), 0o700); err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	conf := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", h.TokenDir())
	if err := os.WriteFile(h.ConfPath(), []byte(conf), 0o600); err != nil {
		return nil, fmt.Errorf("e2e: writing SoftHSM config: %w", err)
	}
	return h, nil
}

// ConfPath returns dir/softhsm2.conf.
func (h *SoftHSM) ConfPath() string { return filepath.Join(h.dir, "softhsm2.conf") }

// TokenDir returns dir/tokens.
func (h *SoftHSM) TokenDir() string { return filepath.Join(h.dir, "tokens") }

// Module returns the PKCS#11 module path: $NOTATION_PKCS11_TEST_MODULE if
// set, else [DefaultSoftHSMModule].
func (h *SoftHSM) Module() string {
	if m := os.Getenv("NOTATION_PKCS11_TEST_MODULE"); m != "" {
		return m
	}
	return DefaultSoftHSMModule
}

// Env returns the variables a process needs to see this SoftHSM's tokens:
// SOFTHSM2_CONF=ConfPath().
func (h *SoftHSM) Env() []string { return []string{"SOFTHSM2_CONF=" + h.ConfPath()} }

// InitToken initialises the first free slot as a token labelled label, with
// softhsm2-util --init-token --free. SoftHSM does not refuse a label that is
// already in use; the caller keeps labels unique.
func (h *SoftHSM) InitToken(label, soPIN, userPIN string) error {
	_, err := h.util("--init-token", "--free", "--label", label, "--so-pin", soPIN, "--pin", userPIN)
	return err
}

// ImportKey imports the private key in keyPEMPath (PKCS#8, PKCS#1 RSA or
// SEC 1 EC PEM, unencrypted), and its public key, into the token labelled
// tokenLabel as objects labelled label with CKA_ID id. softhsm2-util reads
// only PKCS#8, so other forms are converted first into a temporary file under
// dir that is removed afterwards.
func (h *SoftHSM) ImportKey(tokenLabel, userPIN, keyPEMPath, label string, id []byte) error {
	if len(id) == 0 {
		return errors.New("e2e: ImportKey needs a non-empty id")
	}
	raw, err := os.ReadFile(keyPEMPath)
	if err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	pkcs8, err := toPKCS8PEM(raw)
	if err != nil {
		return fmt.Errorf("e2e: %s: %w", keyPEMPath, err)
	}
	f, err := os.CreateTemp(h.dir, "import-*.pem") // mode 0600
	if err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(pkcs8); err != nil {
		f.Close()
		return fmt.Errorf("e2e: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	_, err = h.util("--import", f.Name(), "--token", tokenLabel, "--label", label,
		"--id", hex.EncodeToString(id), "--pin", userPIN)
	return err
}

func (h *SoftHSM) util(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	args = append(args, "--module", h.Module())
	return runOK(ctx, append(baseEnv(), h.Env()...), h.dir, "softhsm2-util", args...)
}

// toPKCS8PEM returns the first private key in data as an unencrypted PKCS#8
// PEM block.
func toPKCS8PEM(data []byte) ([]byte, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM private key found")
		}
		var key any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			if _, err = x509.ParsePKCS8PrivateKey(b.Bytes); err != nil {
				return nil, err
			}
			return pem.EncodeToMemory(b), nil
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted private keys are not supported")
		default:
			continue // for example EC PARAMETERS before the key
		}
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
}
