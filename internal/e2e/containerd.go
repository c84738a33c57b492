package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// ContainerdVersion is the containerd (and ctr) that `scripts/tools.sh
// containerd` builds.
const ContainerdVersion = "v2.4.2"

const (
	containerdReadyTimeout = 30 * time.Second
	containerdStopTimeout  = 10 * time.Second
)

// FindContainerd returns the containerd and ctr binaries in [ToolsDir]. Its
// error wraps [ErrToolsMissing] and says how to build them.
func FindContainerd() (containerd, ctr string, err error) {
	dir, err := ToolsDir()
	if err != nil {
		return "", "", err
	}
	containerd, ctr = filepath.Join(dir, "containerd"), filepath.Join(dir, "ctr")
	for _, p := range []string{containerd, ctr} {
		if !isExecutable(p) {
			return "", "", fmt.Errorf("%w: %s %s not found (or not executable) in %s; run `scripts/tools.sh containerd`, or set NOTATION_PKCS11_TOOLS_BIN to a folder holding containerd and ctr",
				ErrToolsMissing, filepath.Base(p), ContainerdVersion, dir)
		}
	}
	return containerd, ctr, nil
}

// ContainerdOptions configures [StartContainerd].
type ContainerdOptions struct {
	// VerifierDir is the bin_dir of the bindir image verifier plugin: every
	// executable in it runs before each pull. Required.
	VerifierDir string
	// PerVerifierTimeout is the plugin's per_verifier_timeout. Default 10 s
	// (containerd's).
	PerVerifierTimeout time.Duration
	// Env ("K=V") is added to containerd's minimal environment, and so to
	// the verifiers', which inherit it.
	Env []string
}

// Containerd is a running containerd with its root, state and socket in a
// folder of its own.
type Containerd struct {
	bin, ctr string
	dir      string
	cmd      *exec.Cmd
	logPath  string
	exited   chan struct{}
	waitErr  error

	stopOnce sync.Once
	stopErr  error
}

// StartContainerd starts containerd (bin) as the current user, which must
// be root, with a version 3 configuration it writes to dir/config.toml:
// root, state and the gRPC socket under dir, the bindir image verifier
// plugin over opts.VerifierDir, the transfer service unpacking with the
// native snapshotter (no mount needed), logs to dir/containerd.log. It returns once
// `ctr version` answers on the socket. ctx bounds only the start;
// containerd runs until [Containerd.Stop].
func StartContainerd(ctx context.Context, bin, ctr, dir string, opts ContainerdOptions) (*Containerd, error) {
	if opts.VerifierDir == "" {
		return nil, errors.New("e2e: ContainerdOptions.VerifierDir is required")
	}
	if opts.PerVerifierTimeout <= 0 {
		opts.PerVerifierTimeout = 10 * time.Second
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	c := &Containerd{bin: bin, ctr: ctr, dir: dir, logPath: filepath.Join(dir, "containerd.log"), exited: make(chan struct{})}
	cfg := fmt.Sprintf(`version = 3
root = %q
state = %q

[grpc]
  address = %q

[plugins."io.containerd.image-verifier.v1.bindir"]
  bin_dir = %q
  max_verifiers = 10
  per_verifier_timeout = %q

# Unpack with the native snapshotter: no mount needed.
[[plugins."io.containerd.transfer.v1.local".unpack_config]]
  platform = %q
  snapshotter = "native"
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.Socket(), opts.VerifierDir, opts.PerVerifierTimeout.String(), runtime.GOOS+"/"+runtime.GOARCH)
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, fmt.Errorf("e2e: writing containerd config: %w", err)
	}
	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor
	c.cmd = exec.Command(bin, "--config", cfgPath, "--log-level", "debug")
	c.cmd.Dir = dir
	c.cmd.Env = append(baseEnv(), opts.Env...)
	c.cmd.Stdout = logFile
	c.cmd.Stderr = logFile
	setProcessGroup(c.cmd)
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("e2e: starting containerd: %w", err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()
	if err := c.waitReady(ctx); err != nil {
		_ = c.Stop()
		return nil, fmt.Errorf("e2e: containerd: %w; log %s ends:\n%s", err, c.logPath, tail(c.logPath, 4096))
	}
	return c, nil
}

// StartContainerdT starts containerd from [FindContainerd] in a temporary
// folder and stops it in t.Cleanup. It ends the test (t.Fatal when
// [Required], else t.Skip) when containerd is missing or the test does not
// run as root, which containerd needs.
func StartContainerdT(t testing.TB, opts ContainerdOptions) *Containerd {
	t.Helper()
	bin, ctr, err := FindContainerd()
	if err != nil {
		skipOrFatal(t, err.Error())
	}
	if os.Geteuid() != 0 {
		skipOrFatal(t, "containerd runs as root only; run the containerd tests as root (make test does in CI)")
	}
	// A short folder: the socket path must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "ctrd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) }) // registered first, so run after Stop
	ctx, cancel := context.WithTimeout(context.Background(), containerdReadyTimeout)
	defer cancel()
	c, err := StartContainerd(ctx, bin, ctr, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// Socket is containerd's gRPC socket.
func (c *Containerd) Socket() string { return filepath.Join(c.dir, "c.sock") }

// LogPath is the file containerd logs to (debug level: verifier stderr
// lines are there).
func (c *Containerd) LogPath() string { return c.logPath }

// Ctr runs ctr --address SOCKET args. Like [Notation.Run], a non-zero exit
// is reported through code with err nil.
func (c *Containerd) Ctr(ctx context.Context, args ...string) (stdout, stderr string, code int, err error) {
	return run(ctx, baseEnv(), c.dir, c.ctr, append([]string{"--address", c.Socket()}, args...)...)
}

// Pull runs `ctr image pull --plain-http --snapshotter native REF`, which
// goes through the transfer service and so through the image verifiers;
// the native snapshotter unpacks without mounting.
func (c *Containerd) Pull(ctx context.Context, ref string) (stdout, stderr string, code int, err error) {
	return c.Ctr(ctx, "image", "pull", "--plain-http", "--snapshotter", "native", ref)
}

// Remove deletes the image ref, so that the next pull pulls again.
func (c *Containerd) Remove(ctx context.Context, ref string) error {
	_, stderr, code, err := c.Ctr(ctx, "image", "rm", ref)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("e2e: ctr image rm %s exited %d: %s", ref, code, strings.TrimSpace(stderr))
	}
	return nil
}

func (c *Containerd) waitReady(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.exited:
			return fmt.Errorf("exited before it was ready: %v", c.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", ctx.Err())
		case <-tick.C:
		}
		if _, err := os.Stat(c.Socket()); err != nil {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, _, code, err := c.Ctr(qctx, "version")
		cancel()
		if err == nil && code == 0 {
			return nil
		}
	}
}

// Stop ends containerd's process group (SIGTERM, then SIGKILL after 10 s)
// and waits for it. It is safe to call more than once and concurrently.
func (c *Containerd) Stop() error {
	c.stopOnce.Do(func() {
		select {
		case <-c.exited:
			if c.waitErr != nil {
				c.stopErr = fmt.Errorf("e2e: containerd exited on its own: %w; log %s ends:\n%s", c.waitErr, c.logPath, tail(c.logPath, 2048))
			}
			return
		default:
		}
		if err := signalGroup(c.cmd, false); err != nil {
			c.stopErr = fmt.Errorf("e2e: stopping containerd: %w", err)
		}
		select {
		case <-c.exited:
			return
		case <-time.After(containerdStopTimeout):
		}
		if err := signalGroup(c.cmd, true); err != nil && c.stopErr == nil {
			c.stopErr = fmt.Errorf("e2e: killing containerd: %w", err)
		}
		<-c.exited
	})
	return c.stopErr
}

// tail returns the last n bytes of the file at path.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		_, _ = f.Seek(-n, 2)
	}
	buf := make([]byte, n)
	m, _ := f.Read(buf)
	return strings.TrimSpace(string(buf[:m]))
}

// ContainerdVerifierPackage is the import path of the project's containerd
// image verifier.
const ContainerdVerifierPackage = "github.com/notation-pkcs11/notation-pkcs11/cmd/notation-pkcs11-containerd"

// ContainerdVerifierName is the verifier's file name in bin_dir; containerd
// names it so in its reasons.
const ContainerdVerifierName = "notation-pkcs11-containerd"

// BuildContainerdVerifier builds the project's containerd verifier into dir
// and returns its path.
func BuildContainerdVerifier(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, ContainerdVerifierName)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ContainerdVerifierPackage)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("e2e: go build %s: %w\n%s", ContainerdVerifierPackage, err, b)
	}
	return out, nil
}
