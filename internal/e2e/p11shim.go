//go:build unix

package e2e

import (
	"context"
	_ "embed" // the shim's C source
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shimSource is testdata/p11shim.c: a PKCS#11 module that forwards to
// another module and injects faults (see [Shim]).
//
//go:embed testdata/p11shim.c
var shimSource []byte

// BuildShim compiles the fault-injecting PKCS#11 shim module with gcc into
// dir and returns the path of the shared library.
func BuildShim(ctx context.Context, gcc, dir string) (string, error) {
	src := filepath.Join(dir, "p11shim.c")
	if err := os.WriteFile(src, shimSource, 0o600); err != nil {
		return "", fmt.Errorf("e2e: %w", err)
	}
	lib := filepath.Join(dir, "libp11shim.so")
	cmd := exec.CommandContext(ctx, gcc, "-Wall", "-Werror", "-shared", "-fPIC", "-o", lib, src, "-ldl")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("e2e: gcc p11shim.c: %w\n%s", err, out)
	}
	return lib, nil
}

// BuildShimT builds the shim into a temporary folder; it ends the test
// (t.Fatal when [Required], else t.Skip) when gcc is missing.
func BuildShimT(t testing.TB) string {
	t.Helper()
	gcc := LookPathT(t, "gcc", "gcc", "the PKCS#11 fault-injection shim cannot be built")
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	lib, err := BuildShim(ctx, gcc, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

// Shim says how the shim module behaves; Env turns it into the variables the
// module reads (in the process that loads it).
type Shim struct {
	// Module is the real PKCS#11 module every call is forwarded to.
	Module string
	// Log, when set, is a file the shim appends one line per intercepted
	// call to ("C_Login 1", "C_SignInit 0x1041", "C_Sign", "block C_Sign",
	// "C_Sign done 0x0", "C_Finalize", ...). [ReadShimLog] reads it.
	Log string
	// Block names the function that blocks on entry (C_Login, C_SignInit,
	// C_Sign, C_OpenSession, C_GetSlotList or C_FindObjectsInit) before it
	// reaches Module, until Gate is released ([ReleaseGate]); without a
	// Gate, for ever.
	Block string
	// BlockFile, instead of Block, names a file the shim reads the
	// function to block from at each C_Initialize (no file: none), so
	// that a test can arm the block for processes that start later.
	BlockFile string
	// Gate is a FIFO made by [NewGate].
	Gate string
	// Hide lists mechanisms (CKM_ numbers) that C_GetMechanismList leaves
	// out and that C_GetMechanismInfo and C_SignInit refuse with
	// CKR_MECHANISM_INVALID.
	Hide []uint
	// Noise makes the module print to stdout and stderr when it is loaded,
	// asked for its function list and initialised.
	Noise bool
	// ECDSAHash offers CKM_ECDSA_SHA256/384/512, which SoftHSM 2.6 lacks:
	// the shim hashes the message with the module's C_Digest and signs
	// the digest with CKM_ECDSA.
	ECDSAHash bool
}

// ShimNoise is the text the shim prints when Noise is set.
const ShimNoise = "P11SHIM-NOISE"

// Env returns the P11SHIM_* variables for s.
func (s Shim) Env() []string {
	env := []string{"P11SHIM_MODULE=" + s.Module}
	if s.Log != "" {
		env = append(env, "P11SHIM_LOG="+s.Log)
	}
	if s.Block != "" {
		env = append(env, "P11SHIM_BLOCK="+s.Block)
	}
	if s.BlockFile != "" {
		env = append(env, "P11SHIM_BLOCK=@"+s.BlockFile)
	}
	if s.Gate != "" {
		env = append(env, "P11SHIM_GATE="+s.Gate)
	}
	if len(s.Hide) > 0 {
		hide := make([]string, len(s.Hide))
		for i, m := range s.Hide {
			hide[i] = fmt.Sprintf("0x%x", m)
		}
		env = append(env, "P11SHIM_HIDE="+strings.Join(hide, ","))
	}
	if s.Noise {
		env = append(env, "P11SHIM_NOISE=1")
	}
	if s.ECDSAHash {
		env = append(env, "P11SHIM_ECDSA_HASH=1")
	}
	return env
}

// NewGate makes a FIFO in dir for [Shim.Gate].
func NewGate(dir string) (string, error) {
	p := filepath.Join(dir, "gate.fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		return "", fmt.Errorf("e2e: mkfifo %s: %w", p, err)
	}
	return p, nil
}

// ReleaseGate lets a call blocked at gate go on: it opens the FIFO for
// writing, which waits until the shim has it open for reading, and closes
// it. ctx bounds the wait.
func ReleaseGate(ctx context.Context, gate string) error {
	for {
		f, err := os.OpenFile(gate, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			return f.Close()
		}
		if !errors.Is(err, syscall.ENXIO) { // ENXIO: no reader yet
			return fmt.Errorf("e2e: releasing the gate: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("e2e: no call is waiting at the gate %s: %w", gate, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// ReadShimLog returns the lines of a shim log; a log not written yet has
// none.
func ReadShimLog(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil, nil
	}
	return strings.Split(s, "\n"), nil
}

// WaitShimLog waits until the shim log holds the line want (the shim has
// got that far) or ctx ends.
func WaitShimLog(ctx context.Context, path, want string) error {
	for {
		lines, err := ReadShimLog(path)
		if err != nil {
			return err
		}
		for _, l := range lines {
			if l == want {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("e2e: the shim log %s never showed %q (it has %q): %w", path, want, lines, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
