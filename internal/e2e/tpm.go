//go:build unix

package e2e

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A TPM 2.0 for tests: swtpm (a software TPM) on two loopback ports, the
// tpm2-abrmd resource manager in front of it on a private session D-Bus,
// and a tpm2-pkcs11 store in a folder of its own. Without the resource
// manager tpm2-pkcs11 fails ("out of memory for object contexts"): nothing
// flushes its transient objects.

const (
	tpmReadyTimeout = 20 * time.Second
	tpmStartTries   = 5
	// tabrmdName is the bus name tpm2-abrmd takes (its default).
	tabrmdName = "com.intel.tss2.Tabrmd"
)

// ErrTPMToolsMissing is wrapped by [FindTPMTools]'s error.
var ErrTPMToolsMissing = errors.New("e2e: TPM 2.0 test tools missing")

// TPMTools are the programs the TPM harness runs.
type TPMTools struct {
	Swtpm      string // swtpm (package swtpm)
	DBusDaemon string // dbus-daemon (package dbus)
	Abrmd      string // tpm2-abrmd (package tpm2-abrmd; its TCTI: libtss2-tcti-tabrmd0)
	Ptool      string // tpm2_ptool (package libtpm2-pkcs11-tools)
	Getcap     string // tpm2_getcap (package tpm2-tools)
	Module     string // libtpm2_pkcs11.so (package libtpm2-pkcs11-1)
}

// FindTPMTools locates the TPM harness's programs on PATH and the
// tpm2-pkcs11 module ($NOTATION_PKCS11_TPM2_MODULE, else Debian's multiarch
// path). Its error names every missing piece and its package.
func FindTPMTools() (TPMTools, error) {
	var tt TPMTools
	var missing []string
	for _, p := range []struct {
		dst       *string
		name, pkg string
	}{
		{&tt.Swtpm, "swtpm", "swtpm"},
		{&tt.DBusDaemon, "dbus-daemon", "dbus"},
		{&tt.Abrmd, "tpm2-abrmd", "tpm2-abrmd"},
		{&tt.Ptool, "tpm2_ptool", "libtpm2-pkcs11-tools"},
		{&tt.Getcap, "tpm2_getcap", "tpm2-tools"},
	} {
		path, err := exec.LookPath(p.name)
		if err != nil {
			missing = append(missing, p.name+" ("+p.pkg+")")
			continue
		}
		*p.dst = path
	}
	if m, err := TPM2PKCS11Module(); err != nil {
		missing = append(missing, "libtpm2_pkcs11.so (libtpm2-pkcs11-1)")
	} else {
		tt.Module = m
	}
	if len(missing) > 0 {
		return TPMTools{}, fmt.Errorf("%w: %s; apt-get install swtpm swtpm-tools libtpm2-pkcs11-1 libtpm2-pkcs11-tools tpm2-tools tpm2-abrmd libtss2-tcti-tabrmd0 dbus",
			ErrTPMToolsMissing, strings.Join(missing, ", "))
	}
	return tt, nil
}

// TPM2PKCS11Module returns the path of libtpm2_pkcs11.so:
// $NOTATION_PKCS11_TPM2_MODULE if set, else the first of Debian's multiarch
// paths that exists.
func TPM2PKCS11Module() (string, error) {
	if p := os.Getenv("NOTATION_PKCS11_TPM2_MODULE"); p != "" {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/*/pkcs11/libtpm2_pkcs11.so")
	for _, p := range append(matches, "/usr/lib/pkcs11/libtpm2_pkcs11.so") {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("e2e: libtpm2_pkcs11.so not found (apt-get install libtpm2-pkcs11-1, or set NOTATION_PKCS11_TPM2_MODULE)")
}

// TPM is a running software TPM with its resource manager and session bus.
type TPM struct {
	tools    TPMTools
	dir      string
	busDir   string // short folder for the bus socket (sun_path is 108 bytes)
	port     int    // TPM command port
	ctrlPort int    // swtpm control port
	curves   []string

	swtpm, dbus, abrmd *daemon
	storeReady         bool
}

// StartTPM starts swtpm on free loopback ports with its state in dir/swtpm,
// a session dbus-daemon listening on a Unix socket in a private folder, and
// tpm2-abrmd --session on that bus in front of swtpm (--flush-all); it
// returns once tpm2_getcap answers through the resource manager. ctx
// bounds only the start; every process runs until [TPM.Stop].
func StartTPM(ctx context.Context, tools TPMTools, dir string) (*TPM, error) {
	t := &TPM{tools: tools, dir: dir}
	var err error
	if t.busDir, err = os.MkdirTemp("", "e2e-dbus-"); err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	for _, d := range []string{t.stateDir(), t.StoreDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			_ = t.Stop()
			return nil, fmt.Errorf("e2e: %w", err)
		}
	}
	if err := t.start(ctx); err != nil {
		_ = t.Stop()
		return nil, err
	}
	return t, nil
}

func (t *TPM) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*tpmReadyTimeout)
	defer cancel()
	if err := t.startSwtpm(ctx); err != nil {
		return err
	}
	var err error
	t.dbus, err = startDaemon("dbus-daemon", t.dir, filepath.Join(t.dir, "dbus.log"), baseEnv(), t.tools.DBusDaemon,
		"--session", "--nofork", "--nopidfile", "--address=unix:path="+t.busSocket())
	if err != nil {
		return err
	}
	if err := waitUnixSocket(ctx, t.dbus, t.busSocket()); err != nil {
		return fmt.Errorf("e2e: session bus: %w", err)
	}
	t.abrmd, err = startDaemon("tpm2-abrmd", t.dir, filepath.Join(t.dir, "abrmd.log"), append(baseEnv(), t.busEnv()), t.tools.Abrmd,
		"--session", "--allow-root", "--flush-all", "--tcti=swtpm:host=127.0.0.1,port="+strconv.Itoa(t.port))
	if err != nil {
		return err
	}
	return t.waitResourceManager(ctx)
}

// startSwtpm starts swtpm, on fresh ports when another process took the
// ones chosen.
func (t *TPM) startSwtpm(ctx context.Context) error {
	var lastErr error
	for range tpmStartTries {
		// The swtpm TCTI (in tpm2-abrmd) takes the control port to be
		// the command port + 1.
		p1, err := FreePort()
		if err != nil {
			return err
		}
		p2 := p1 + 1
		if !portFree(p2) {
			lastErr = fmt.Errorf("port %d is taken", p2)
			continue
		}
		t.port, t.ctrlPort = p1, p2
		t.swtpm, err = startDaemon("swtpm", t.dir, filepath.Join(t.dir, "swtpm.log"), baseEnv(), t.tools.Swtpm,
			"socket", "--tpm2", "--tpmstate", "dir="+t.stateDir(),
			"--server", "type=tcp,port="+strconv.Itoa(p1)+",bindaddr=127.0.0.1",
			"--ctrl", "type=tcp,port="+strconv.Itoa(p2)+",bindaddr=127.0.0.1",
			"--flags", "not-need-init,startup-clear")
		if err != nil {
			return err
		}
		if lastErr = waitTCP(ctx, t.swtpm, t.ctrlAddr()); lastErr == nil {
			return nil
		}
		_ = t.swtpm.Stop()
		if ctx.Err() != nil || !strings.Contains(t.swtpm.logTail(), "in use") {
			break
		}
	}
	return fmt.Errorf("e2e: swtpm: %w", lastErr)
}

// waitResourceManager polls tpm2_getcap ecc-curves through tpm2-abrmd
// until it answers, and keeps the curves the TPM offers.
func (t *TPM) waitResourceManager(ctx context.Context) error {
	var last string
	for {
		if !t.abrmd.running() {
			return fmt.Errorf("e2e: %w", t.abrmd.exitedErr())
		}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out, errOut, code, err := run(actx, t.toolEnv(), t.dir, t.tools.Getcap, "ecc-curves")
		cancel()
		if err == nil && code == 0 {
			t.curves = parseCurves(out)
			return nil
		}
		last = strings.TrimSpace(errOut)
		select {
		case <-ctx.Done():
			return fmt.Errorf("e2e: tpm2-abrmd not ready (%s): %w; tpm2_getcap: %s; abrmd log: %s", tabrmdName, ctx.Err(), last, t.abrmd.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// parseCurves reads tpm2_getcap ecc-curves ("TPM2_ECC_NIST_P384: 0x4").
func parseCurves(out string) []string {
	var curves []string
	for _, l := range strings.Split(out, "\n") {
		if name, _, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && name != "" {
			curves = append(curves, name)
		}
	}
	return curves
}

// HasCurve reports whether the TPM offers the ECC curve, named as
// tpm2_getcap does (TPM2_ECC_NIST_P384).
func (t *TPM) HasCurve(name string) bool {
	for _, c := range t.curves {
		if c == name {
			return true
		}
	}
	return false
}

func (t *TPM) stateDir() string  { return filepath.Join(t.dir, "swtpm") }
func (t *TPM) busSocket() string { return filepath.Join(t.busDir, "bus") }
func (t *TPM) busEnv() string    { return "DBUS_SESSION_BUS_ADDRESS=unix:path=" + t.busSocket() }
func (t *TPM) ctrlAddr() string  { return net.JoinHostPort("127.0.0.1", strconv.Itoa(t.ctrlPort)) }

// StoreDir is the tpm2-pkcs11 store (TPM2_PKCS11_STORE).
func (t *TPM) StoreDir() string { return filepath.Join(t.dir, "store") }

// Module returns the path of the tpm2-pkcs11 module.
func (t *TPM) Module() string { return t.tools.Module }

// Port returns the TPM's command port on 127.0.0.1.
func (t *TPM) Port() int { return t.port }

// Env returns the variables a process that loads the tpm2-pkcs11 module
// needs: the session bus, the store, and the tabrmd TCTI for the module
// (TPM2_PKCS11_TCTI) and for tpm2-tools (TPM2TOOLS_TCTI).
func (t *TPM) Env() []string {
	return []string{
		t.busEnv(),
		"TPM2_PKCS11_STORE=" + t.StoreDir(),
		"TPM2_PKCS11_TCTI=tabrmd:bus_type=session",
		"TPM2TOOLS_TCTI=tabrmd:bus_type=session",
	}
}

func (t *TPM) toolEnv() []string { return append(baseEnv(), t.Env()...) }

// StopResourceManager stops tpm2-abrmd (SIGTERM, SIGKILL after 5 s) and
// waits for it: the TPM daemon goes away, the TPM stays.
func (t *TPM) StopResourceManager() error { return t.abrmd.Stop() }

// FreezeResourceManager stops tpm2-abrmd with SIGSTOP: connections stay
// open and nothing answers. [TPM.Stop] ends it.
func (t *TPM) FreezeResourceManager() error { return t.abrmd.signal(syscall.SIGSTOP) }

// KillTPM kills swtpm (SIGKILL), as if the TPM were pulled out: the
// resource manager stays and answers with errors.
func (t *TPM) KillTPM() error { return t.swtpm.Kill() }

// Stop ends tpm2-abrmd, swtpm (a shutdown command on its control port
// first, so that it writes its state) and the bus, waits for each, and
// removes the bus folder. It is safe to call more than once.
func (t *TPM) Stop() error {
	var errs []error
	if t.abrmd != nil {
		errs = append(errs, t.abrmd.Stop())
	}
	if t.swtpm != nil {
		if t.swtpm.running() {
			_ = swtpmShutdown(t.ctrlAddr())
			select {
			case <-t.swtpm.exited:
			case <-time.After(daemonStopTimeout):
			}
		}
		errs = append(errs, t.swtpm.Stop())
	}
	if t.dbus != nil {
		errs = append(errs, t.dbus.Stop())
	}
	if t.busDir != "" {
		errs = append(errs, os.RemoveAll(t.busDir))
	}
	return errors.Join(errs...)
}

// swtpmShutdown sends CMD_SHUTDOWN (3) on swtpm's control channel and
// reads the 4-byte result, within 5 s.
func swtpmShutdown(addr string) error {
	c, err := net.DialTimeout("tcp", addr, daemonStopTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(daemonStopTimeout)); err != nil {
		return err
	}
	if err := binary.Write(c, binary.BigEndian, uint32(3)); err != nil {
		return err
	}
	var res uint32
	if err := binary.Read(c, binary.BigEndian, &res); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if res != 0 {
		return fmt.Errorf("swtpm shutdown: TPM result 0x%x", res)
	}
	return nil
}

// portFree reports whether port on 127.0.0.1 could be listened on a moment
// ago.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// waitTCP waits until addr accepts a connection or d exits.
func waitTCP(ctx context.Context, d *daemon, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, tpmReadyTimeout)
	defer cancel()
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-d.exited:
			return d.exitedErr()
		case <-ctx.Done():
			return fmt.Errorf("%s not listening on %s: %w; log: %s", d.name, addr, ctx.Err(), d.logTail())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitUnixSocket waits until the socket at path accepts a connection or d
// exits.
func waitUnixSocket(ctx context.Context, d *daemon, path string) error {
	ctx, cancel := context.WithTimeout(ctx, tpmReadyTimeout)
	defer cancel()
	for {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-d.exited:
			return d.exitedErr()
		case <-ctx.Done():
			return fmt.Errorf("%s not listening on %s: %w; log: %s", d.name, path, ctx.Err(), d.logTail())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
