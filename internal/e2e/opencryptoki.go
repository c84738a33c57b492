//go:build unix

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	p11 "github.com/miekg/pkcs11"
)

// opencryptoki (Debian's 3.8) for tests: its soft token (swtok), served by
// the pkcsslotd daemon. Unlike SoftHSM and the TPM harness, opencryptoki is
// system-wide: one configuration (/etc/opencryptoki), one daemon socket
// (/var/run/pkcsslotd.socket) and one token store (/var/lib/opencryptoki)
// per machine, compiled in. So the harness
//   - needs root (pkcsslotd and the store belong to root:pkcs11),
//   - takes an exclusive lock (flock) so that one test at a time, in any
//     process, uses the token,
//   - initialises the soft token only when it is new or carries
//     [OpencryptokiTestLabel] (never a token someone else set up), and
//   - starts pkcsslotd only when it is not running, and then stops it.
// The token is set up through the PKCS#11 API (C_InitToken, then C_InitPIN
// logged in as SO) in this process: no PIN on a command line, no prompt.
// The SO PIN stays opencryptoki's default (87654321): 3.8 cannot
// re-initialise a token whose SO PIN was changed (C_InitToken succeeds,
// then every SO login fails with CKR_FUNCTION_FAILED), and the harness
// re-initialises the token on every start.

const (
	// OpencryptokiTestLabel is the label the harness gives the soft token;
	// it re-initialises only a token with this label (or a new one).
	OpencryptokiTestLabel = "notation-pkcs11-test"
	// opencryptokiDefaultSOPIN is the SO PIN of a new opencryptoki token.
	opencryptokiDefaultSOPIN = "87654321"
	opencryptokiPIDFile      = "/var/run/pkcsslotd.pid"
	opencryptokiLock         = "/var/lock/opencryptoki/notation-pkcs11-test.lock"
	opencryptokiSoftModel    = "IBM SoftTok"
	opencryptokiLockTimeout  = 5 * time.Minute
)

var (
	// ErrOpencryptokiForeignToken: the soft token was set up by someone
	// else; the harness does not wipe it.
	ErrOpencryptokiForeignToken = errors.New("e2e: the opencryptoki soft token belongs to someone else")
	// ErrOpencryptokiMissing: opencryptoki is not installed.
	ErrOpencryptokiMissing = errors.New("e2e: opencryptoki missing (apt-get install opencryptoki)")
	errModuleInit          = errors.New("the module cannot reach pkcsslotd")
)

// OpencryptokiModule returns the path of libopencryptoki.so:
// $NOTATION_PKCS11_OPENCRYPTOKI_MODULE if set, else the first of Debian's
// multiarch paths that exists.
func OpencryptokiModule() (string, error) {
	if p := os.Getenv("NOTATION_PKCS11_OPENCRYPTOKI_MODULE"); p != "" {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/*/pkcs11/libopencryptoki.so")
	for _, p := range append(matches, "/usr/lib/pkcs11/libopencryptoki.so", "/usr/lib/opencryptoki/libopencryptoki.so") {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: libopencryptoki.so not found (or set NOTATION_PKCS11_OPENCRYPTOKI_MODULE)", ErrOpencryptokiMissing)
}

// Opencryptoki is the machine's opencryptoki soft token, set up for a test
// and locked for it.
type Opencryptoki struct {
	module string
	slot   uint
	lock   *os.File
	slotd  *daemon // nil when pkcsslotd was already running
}

// StartOpencryptoki takes the harness lock (waiting for other tests, up
// to 5 minutes or ctx), starts pkcsslotd in the foreground (logging to
// dir/pkcsslotd.log) unless it runs already, and initialises the soft
// token as [OpencryptokiTestLabel] with the default SO PIN and userPIN (4
// to 8 characters: opencryptoki's limits). Every object on the token is
// gone afterwards. [Opencryptoki.Stop] stops what it started and unlocks.
func StartOpencryptoki(ctx context.Context, slotd, module, dir, userPIN string) (*Opencryptoki, error) {
	if len(userPIN) < 4 || len(userPIN) > 8 {
		return nil, errors.New("e2e: opencryptoki PINs must have 4 to 8 characters")
	}
	// /var/lock is a tmpfs on most machines: the package's tmpfiles.d
	// entry makes opencryptoki's lock folders at boot (or at install).
	if _, err := os.Stat(filepath.Dir(opencryptokiLock)); err != nil {
		return nil, fmt.Errorf("e2e: opencryptoki's lock folder: %w (run: systemd-tmpfiles --create /usr/lib/tmpfiles.d/opencryptoki.conf)", err)
	}
	o := &Opencryptoki{module: module}
	var err error
	if o.lock, err = lockFile(ctx, opencryptokiLock); err != nil {
		return nil, err
	}
	// pkcsslotd 3.8 exits when a client connects to its socket and
	// closes without reading the slot table it writes: never probe the
	// socket; the module's C_Initialize is the probe.
	if !slotdRunning() {
		_ = os.Remove(opencryptokiSocket) // a stale one would end the wait below at once
		o.slotd, err = startDaemon("pkcsslotd", dir, filepath.Join(dir, "pkcsslotd.log"), baseEnv(), slotd, "-f")
		if err != nil {
			_ = o.Stop()
			return nil, fmt.Errorf("e2e: pkcsslotd: %w", err)
		}
		// pkcsslotd makes its socket after its shared memory. A client whose
		// C_Initialize runs before that can crash inside the module (seen
		// under load: SIGSEGV in C_Initialize), so wait for the socket to
		// exist, without connecting to it.
		if err := waitForSocket(ctx, opencryptokiSocket, 30*time.Second); err != nil {
			err = fmt.Errorf("e2e: pkcsslotd: %w; log: %s", err, o.slotd.logTail())
			_ = o.Stop()
			return nil, err
		}
	}
	if o.slot, err = o.initToken(ctx, userPIN); err != nil {
		if o.slotd != nil {
			err = fmt.Errorf("%w; pkcsslotd log: %s", err, o.slotd.logTail())
		}
		_ = o.Stop()
		return nil, err
	}
	return o, nil
}

// Module returns the path of libopencryptoki.so.
func (o *Opencryptoki) Module() string { return o.module }

// Slot returns the soft token's slot.
func (o *Opencryptoki) Slot() uint { return o.slot }

// StartedDaemon reports whether the harness started pkcsslotd (and so may
// stop it).
func (o *Opencryptoki) StartedDaemon() bool { return o.slotd != nil }

// StopDaemon stops the pkcsslotd the harness started.
func (o *Opencryptoki) StopDaemon() error {
	if o.slotd == nil {
		return errors.New("e2e: pkcsslotd was running before the test: not stopping it")
	}
	return o.slotd.Stop()
}

// Stop stops pkcsslotd if the harness started it, and releases the lock.
// It is safe to call more than once.
func (o *Opencryptoki) Stop() error {
	var errs []error
	if o.slotd != nil {
		errs = append(errs, o.slotd.Stop())
	}
	if o.lock != nil {
		errs = append(errs, o.lock.Close()) // closing drops the flock
		o.lock = nil
	}
	return errors.Join(errs...)
}

// lockFile opens path (no symlink) and takes an exclusive flock on it,
// polling until ctx ends or [opencryptokiLockTimeout] passes.
func lockFile(ctx context.Context, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("e2e: opencryptoki harness lock: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, opencryptokiLockTimeout)
	defer cancel()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("e2e: locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("e2e: another test holds the opencryptoki token (%s): %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// OpencryptokiDaemonRunning reports whether a pkcsslotd runs on this
// machine (its pid file names a live pkcsslotd process).
func OpencryptokiDaemonRunning() bool { return slotdRunning() }

// slotdRunning reports whether a pkcsslotd runs: the process that
// /var/run/pkcsslotd.pid names exists and is called pkcsslotd.
func slotdRunning() bool {
	b, err := os.ReadFile(opencryptokiPIDFile)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	comm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	return err != nil || strings.TrimSpace(string(comm)) == "pkcsslotd" // no /proc: trust the signal
}

// initToken runs initSoftToken until the module can reach pkcsslotd (its
// C_Initialize fails while the daemon starts), within ctx and
// [tpmReadyTimeout].
func (o *Opencryptoki) initToken(ctx context.Context, userPIN string) (uint, error) {
	ctx, cancel := context.WithTimeout(ctx, tpmReadyTimeout)
	defer cancel()
	for {
		slot, err := initSoftToken(o.module, userPIN)
		if err == nil || !errors.Is(err, errModuleInit) {
			return slot, err
		}
		if o.slotd != nil && !o.slotd.running() {
			return 0, fmt.Errorf("%w; %w", err, o.slotd.exitedErr())
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%w (pkcsslotd not ready: %w)", err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// mayInitSoftToken says whether the harness may initialise a soft token
// in the state info describes: a new token, or one it set up before.
func mayInitSoftToken(info p11.TokenInfo) error {
	if info.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
		return nil
	}
	if label := strings.TrimRight(info.Label, " \x00"); label != OpencryptokiTestLabel {
		return fmt.Errorf("%w: it is initialised with label %q, and the harness re-initialises only a new token or its own (%q)",
			ErrOpencryptokiForeignToken, label, OpencryptokiTestLabel)
	}
	return nil
}

// initSoftToken initialises the soft token through the module in this
// process: C_InitToken with the default SO PIN, then C_InitPIN with
// userPIN as SO. It returns the slot.
func initSoftToken(module, userPIN string) (uint, error) {
	ctx := p11.New(module)
	if ctx == nil {
		return 0, fmt.Errorf("e2e: cannot load %s", module)
	}
	defer ctx.Destroy()
	if err := ctx.Initialize(); err != nil {
		return 0, fmt.Errorf("e2e: opencryptoki C_Initialize: %w: %w", errModuleInit, err)
	}
	defer ctx.Finalize()
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("e2e: opencryptoki C_GetSlotList: %w", err)
	}
	for _, slot := range slots {
		info, err := ctx.GetTokenInfo(slot)
		if err != nil || strings.TrimRight(info.Model, " \x00") != opencryptokiSoftModel {
			continue
		}
		if err := mayInitSoftToken(info); err != nil {
			return 0, err
		}
		if err := ctx.InitToken(slot, opencryptokiDefaultSOPIN, OpencryptokiTestLabel); err != nil {
			return 0, fmt.Errorf("e2e: opencryptoki C_InitToken on slot %d with the default SO PIN: %w (to start over on a test machine: stop pkcsslotd, "+
				"remove /var/lib/opencryptoki/swtok/{NVTOK.DAT,MK_SO,MK_USER,TOK_OBJ/*} and /dev/shm/var.lib.opencryptoki.swtok)", slot, err)
		}
		s, err := ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
		if err != nil {
			return 0, fmt.Errorf("e2e: opencryptoki C_OpenSession: %w", err)
		}
		defer ctx.CloseSession(s)
		if err := ctx.Login(s, p11.CKU_SO, opencryptokiDefaultSOPIN); err != nil {
			return 0, fmt.Errorf("e2e: opencryptoki SO login: %w", err)
		}
		if err := ctx.InitPIN(s, userPIN); err != nil {
			return 0, fmt.Errorf("e2e: opencryptoki C_InitPIN: %w", err)
		}
		if err := ctx.Logout(s); err != nil {
			return 0, fmt.Errorf("e2e: opencryptoki C_Logout: %w", err)
		}
		return slot, nil
	}
	return 0, fmt.Errorf("e2e: opencryptoki offers no soft token (model %q) in slots %v: check /etc/opencryptoki/opencryptoki.conf (slot 3 with stdll libpkcs11_sw.so)", opencryptokiSoftModel, slots)
}

// StartOpencryptokiT starts the harness with a directory for the daemon's
// log and stops it in t.Cleanup. It ends the test (t.Fatal when
// [Required], else t.Skip) when opencryptoki is missing or this is not
// root.
func StartOpencryptokiT(t testing.TB, userPIN string) *Opencryptoki {
	t.Helper()
	slotd := LookPathT(t, "pkcsslotd", "opencryptoki", "the opencryptoki tests cannot start its slot daemon")
	module, err := OpencryptokiModule()
	if err != nil {
		skipOrFatal(t, err.Error())
	}
	if os.Geteuid() != 0 {
		skipOrFatal(t, "opencryptoki's pkcsslotd and its system-wide token store need root")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), opencryptokiLockTimeout+time.Minute)
	defer cancel()
	o, err := StartOpencryptoki(ctx, slotd, module, dir, userPIN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := o.Stop(); err != nil {
			t.Error(err)
		}
	})
	return o
}

// opencryptokiSocket is the socket pkcsslotd 3.8 makes once it is ready.
const opencryptokiSocket = "/var/run/pkcsslotd.socket"

// waitForSocket waits until path is a socket, for at most limit or ctx.
func waitForSocket(ctx context.Context, path string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if st, err := os.Stat(path); err == nil && st.Mode()&os.ModeSocket != 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not appear: %w", path, ctx.Err())
		case <-tick.C:
		}
	}
}
