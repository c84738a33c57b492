package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	registryReadyTimeout = 10 * time.Second
	registryStopTimeout  = 5 * time.Second
	registryStartTries   = 5
)

// Registry is a running distribution registry on a loopback port.
type Registry struct {
	cmd     *exec.Cmd
	addr    string
	dir     string
	logPath string
	exited  chan struct{} // closed when the process has been waited for
	waitErr error         // set before exited is closed

	stopOnce sync.Once
	stopErr  error
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago (it
// listens on port 0 and closes). Another process may take it before the
// caller does; StartRegistry retries for that reason.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("e2e: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartRegistry starts registryBin (distribution v3) on a free port of
// 127.0.0.1 with a configuration it writes to dir/registry.yml: filesystem
// storage under dir/storage, deletes enabled (notation deletes the old
// referrers index on each sign), logs to dir/registry.log. It returns once
// GET /v2/ answers 200, retrying on a fresh port if another process took the
// chosen one. ctx bounds only the start; the registry runs until
// [Registry.Stop].
func StartRegistry(ctx context.Context, registryBin, dir string) (*Registry, error) {
	if err := os.MkdirAll(filepath.Join(dir, "storage"), 0o700); err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	var lastErr error
	for range registryStartTries {
		r, portTaken, err := startRegistryOnce(ctx, registryBin, dir)
		if err == nil {
			return r, nil
		}
		lastErr = err
		if !portTaken || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func startRegistryOnce(ctx context.Context, bin, dir string) (r *Registry, portTaken bool, err error) {
	port, err := FreePort()
	if err != nil {
		return nil, false, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfgPath := filepath.Join(dir, "registry.yml")
	if err := os.WriteFile(cfgPath, []byte(registryConfig(filepath.Join(dir, "storage"), addr)), 0o600); err != nil {
		return nil, false, fmt.Errorf("e2e: writing registry config: %w", err)
	}
	logPath := filepath.Join(dir, "registry.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("e2e: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor

	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), "OTEL_TRACES_EXPORTER=none")
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, false, fmt.Errorf("e2e: starting registry: %w", err)
	}
	r = &Registry{cmd: cmd, addr: addr, dir: dir, logPath: logPath, exited: make(chan struct{})}
	go func() {
		r.waitErr = cmd.Wait()
		close(r.exited)
	}()

	if err := r.waitReady(ctx); err != nil {
		_ = r.Stop()
		tail := r.logTail(2048)
		return nil, strings.Contains(tail, "address already in use"),
			fmt.Errorf("e2e: registry on %s: %w; log %s ends:\n%s", addr, err, logPath, tail)
	}
	return r, false, nil
}

func registryConfig(storage, addr string) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
http:
  addr: %q
  secret: e2e-not-a-secret
`, storage, addr)
}

func (r *Registry) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, registryReadyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-r.exited:
			return fmt.Errorf("exited before it was ready: %v", r.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", ctx.Err())
		case <-tick.C:
		}
		if r.get(ctx, client) {
			// A 200 from a process that then dies came from some other
			// server that holds the port.
			select {
			case <-r.exited:
				return fmt.Errorf("exited before it was ready: %v", r.waitErr)
			default:
				return nil
			}
		}
	}
}

func (r *Registry) get(ctx context.Context, client *http.Client) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.addr+"/v2/", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Addr returns "127.0.0.1:PORT".
func (r *Registry) Addr() string { return r.addr }

// Ref returns Addr()+"/"+repo, for example Ref("demo/app:v1").
func (r *Registry) Ref(repo string) string { return r.addr + "/" + repo }

// LogPath returns the file the registry logs to.
func (r *Registry) LogPath() string { return r.logPath }

// Stop ends the registry's process group (SIGTERM, then SIGKILL after 5 s)
// and waits for it. It is safe to call more than once and concurrently; later
// calls return the first call's result. An exit caused by Stop's own signal
// is not an error.
func (r *Registry) Stop() error {
	r.stopOnce.Do(func() {
		select {
		case <-r.exited:
			// It had already exited; report how, unless it was a clean exit.
			if r.waitErr != nil && !errors.Is(r.waitErr, os.ErrProcessDone) {
				r.stopErr = fmt.Errorf("e2e: registry exited on its own: %w", r.waitErr)
			}
			return
		default:
		}
		if err := signalGroup(r.cmd, false); err != nil {
			r.stopErr = fmt.Errorf("e2e: stopping registry: %w", err)
		}
		select {
		case <-r.exited:
			return
		case <-time.After(registryStopTimeout):
		}
		if err := signalGroup(r.cmd, true); err != nil && r.stopErr == nil {
			r.stopErr = fmt.Errorf("e2e: killing registry: %w", err)
		}
		<-r.exited
	})
	return r.stopErr
}

func (r *Registry) logTail(n int64) string {
	f, err := os.Open(r.logPath)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	buf := make([]byte, n)
	m, _ := f.Read(buf)
	return strings.TrimSpace(string(buf[:m]))
}
