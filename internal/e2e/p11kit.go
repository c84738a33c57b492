//go:build unix

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// p11-kit remoting: `p11-kit server` exports the tokens of a module on a
// Unix socket, and p11-kit-client.so, loaded as the PKCS#11 module, reaches
// them through it. It stands in for a network HSM: the key sits behind a
// socket, in another process.

const (
	p11KitReadyTimeout = 10 * time.Second
	p11KitStopTimeout  = 5 * time.Second
)

// P11KitClientModule returns the path of p11-kit-client.so:
// $NOTATION_PKCS11_P11KIT_CLIENT if set, else the first of Debian's
// multiarch paths that exists.
func P11KitClientModule() (string, error) {
	if p := os.Getenv("NOTATION_PKCS11_P11KIT_CLIENT"); p != "" {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/*/pkcs11/p11-kit-client.so")
	for _, p := range append(matches, "/usr/lib/pkcs11/p11-kit-client.so") {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("e2e: p11-kit-client.so not found (apt-get install p11-kit-modules, or set NOTATION_PKCS11_P11KIT_CLIENT)")
}

// P11KitServer is a running `p11-kit server` in the foreground, in a
// process group of its own (it starts a child per client connection).
type P11KitServer struct {
	cmd     *exec.Cmd
	socket  string
	logPath string
	exited  chan struct{}
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

// StartP11KitServer runs `p11-kit server -f --provider MODULE -n
// dir/p11kit.sock "pkcs11:token=LABEL"` with env added to a minimal
// environment (SOFTHSM2_CONF for SoftHSM, P11SHIM_* for the shim), logging
// to dir/p11kit.log, and returns once the socket accepts connections. ctx
// bounds only the start.
func StartP11KitServer(ctx context.Context, p11kit, module, tokenLabel, dir string, env []string) (*P11KitServer, error) {
	s := &P11KitServer{socket: filepath.Join(dir, "p11kit.sock"), logPath: filepath.Join(dir, "p11kit.log"), exited: make(chan struct{})}
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor
	// The token URI is a pkcs11: URI: a label with reserved characters
	// must be percent-encoded; the tests use plain labels.
	s.cmd = exec.Command(p11kit, "server", "-f", "--provider", module, "-n", s.socket, "pkcs11:token="+tokenLabel)
	s.cmd.Env = append(baseEnv(), env...)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	setProcessGroup(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("e2e: starting p11-kit server: %w", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("e2e: p11-kit server on %s: %w; log: %s", s.socket, err, s.logTail())
	}
	return s, nil
}

func (s *P11KitServer) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p11KitReadyTimeout)
	defer cancel()
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("exited before it was ready: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
		// The server prints its address once it listens.
		if b, err := os.ReadFile(s.logPath); err == nil && strings.Contains(string(b), "P11_KIT_SERVER_ADDRESS=") {
			if c, err := net.Dial("unix", s.socket); err == nil {
				c.Close()
				return nil
			}
		}
	}
}

// Address returns the value for P11_KIT_SERVER_ADDRESS.
func (s *P11KitServer) Address() string { return "unix:path=" + s.socket }

// Env returns the variables a client process needs: P11_KIT_SERVER_ADDRESS.
func (s *P11KitServer) Env() []string { return []string{"P11_KIT_SERVER_ADDRESS=" + s.Address()} }

// LogPath returns the file the server logs to.
func (s *P11KitServer) LogPath() string { return s.logPath }

// Kill ends the server's process group with SIGKILL, as a crash or a lost
// host would, and waits for the server process.
func (s *P11KitServer) Kill() error {
	if err := signalGroup(s.cmd, true); err != nil {
		return fmt.Errorf("e2e: killing p11-kit server: %w", err)
	}
	<-s.exited
	return nil
}

// Freeze stops the server's process group (SIGSTOP): connections stay open
// and nothing answers, as with an HSM that hangs. Stop ends it.
func (s *P11KitServer) Freeze() error {
	if err := syscall.Kill(-s.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("e2e: freezing p11-kit server: %w", err)
	}
	return nil
}

// Stop ends the server's process group (SIGTERM, then SIGKILL after 5 s)
// and waits for it; it is safe to call more than once and after Kill. An
// exit caused by a signal is not an error.
func (s *P11KitServer) Stop() error {
	s.stopOnce.Do(func() {
		select {
		case <-s.exited:
			return
		default:
		}
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGCONT) // a frozen group must see SIGTERM
		if err := signalGroup(s.cmd, false); err != nil {
			s.stopErr = fmt.Errorf("e2e: stopping p11-kit server: %w", err)
		}
		select {
		case <-s.exited:
			return
		case <-time.After(p11KitStopTimeout):
		}
		if err := signalGroup(s.cmd, true); err != nil && s.stopErr == nil {
			s.stopErr = fmt.Errorf("e2e: killing p11-kit server: %w", err)
		}
		<-s.exited
	})
	// Children serving connections are in the group: make sure they are
	// gone too, even when the server itself had already exited.
	if err := signalGroup(s.cmd, true); err != nil && s.stopErr == nil {
		s.stopErr = fmt.Errorf("e2e: killing p11-kit server children: %w", err)
	}
	return s.stopErr
}

func (s *P11KitServer) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return strings.TrimSpace(string(b))
}

// StartP11KitServerT starts `p11-kit server` in front of token tokenLabel of
// h (SoftHSM), or of module when it is not empty (for example the shim in
// front of SoftHSM; env reaches the server), and stops it in t.Cleanup. It
// ends the test (t.Fatal when [Required], else t.Skip) when p11-kit or
// p11-kit-client.so is missing. It returns the server and the client
// module's path.
func StartP11KitServerT(t testing.TB, h *SoftHSM, tokenLabel, module string, env ...string) (*P11KitServer, string) {
	t.Helper()
	p11kit := LookPathT(t, "p11-kit", "p11-kit", "the remoting tests cannot start a p11-kit server")
	client, err := P11KitClientModule()
	if err != nil {
		skipOrFatal(t, err.Error())
	}
	if module == "" {
		module = h.Module()
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := StartP11KitServer(ctx, p11kit, module, tokenLabel, dir, append(h.Env(), env...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s, client
}
