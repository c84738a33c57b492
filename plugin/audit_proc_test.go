//go:build linux

package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"
)

// These tests run the plugin in a child process: the test binary itself,
// started with -test.run=TestAuditHelperProcess and the helper* variables.

const (
	helperMode    = "NOTATION_PKCS11_TEST_HELPER"       // what the child does
	helperLog     = "NOTATION_PKCS11_TEST_AUDIT_LOG"    // the audit log
	helperModule  = "NOTATION_PKCS11_TEST_MODULE"       // the fake module file
	helperTimeout = "NOTATION_PKCS11_TEST_TIMEOUT"      // pluginConfig timeout
	helperFSize   = "NOTATION_PKCS11_TEST_RLIMIT_FSIZE" // RLIMIT_FSIZE in bytes
)

// TestAuditHelperProcess is the child's side; in a normal run it does
// nothing.
func TestAuditHelperProcess(t *testing.T) {
	switch os.Getenv(helperMode) {
	case "":
		return
	case "sign":
		// As cmd/notation-pkcs11 does: SIGTERM cancels the request.
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		b := &fakeBackend{t: t, tok: goodToken(t, "ec-256", true)}
		p := newPlugin(b, stdEnv(os.Getenv(helperModule)), nil)
		cfg := map[string]string{ConfigAuditLog: os.Getenv(helperLog), ConfigTimeout: os.Getenv(helperTimeout)}
		r := runPluginCtx(t, ctx, p, "generate-signature", signReq(keyURI, keyTypeOf(t, "ec-256"), cfg))
		os.Stdout.WriteString(r.stdout)
		os.Stderr.WriteString(r.stderr)
		os.Exit(r.code)
	case "fsize":
		signal.Ignore(syscall.SIGXFSZ)
		limit, err := strconv.ParseUint(os.Getenv(helperFSize), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		var rl syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &rl); err != nil {
			t.Fatal(err)
		}
		rl.Cur = limit
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &rl); err != nil {
			t.Fatal(err)
		}
		rec := newAuditRecord(time.Now(), []byte("payload"))
		rec.Outcome, rec.ErrorCode, rec.Error = "failure", "ERROR", strings.Repeat("e", 1000)
		err = appendAudit(context.Background(), os.Getenv(helperLog), time.Minute, rec)
		fmt.Fprint(os.Stdout, err)
		os.Exit(0)
	}
	t.Fatalf("unknown helper mode %q", os.Getenv(helperMode))
}

// helper returns the command that runs the test binary as a child in mode.
func helper(t *testing.T, mode string, env ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAuditHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), append([]string{helperMode + "=" + mode, helperModule + "=" + fakeModule(t)}, env...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// waitOpened waits until process pid has path open: from then on it is in
// (or past) the wait for the audit log's lock, which the test holds.
func waitOpened(t *testing.T, pid int, path string, exited <-chan struct{}) {
	t.Helper()
	budget := testBudget(t)
	for {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
		for _, fd := range fds {
			if target, err := os.Readlink(fd); err == nil && target == path {
				return
			}
		}
		select {
		case <-exited:
			t.Fatal("the child exited before it opened the audit log")
		case <-budget:
			t.Fatal("the child never opened the audit log")
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// TestAuditLockSIGTERM (regression, issue 12 #3): a plugin waiting for the
// audit log's lock did not end on SIGTERM. A real plugin process (the
// request context wired to SIGTERM as cmd/notation-pkcs11 wires it) now
// ends with a protocol error on stderr and exit code 1, withholding the
// signature, although pluginConfig timeout is an hour.
func TestAuditLockSIGTERM(t *testing.T) {
	log := newAuditLog(t)
	release := holdLock(t, log)
	cmd, stdout, stderr := helper(t, "sign", helperLog+"="+log, helperTimeout+"=1h")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	waitOpened(t, cmd.Process.Pid, log, exited)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-testBudget(t):
		_ = cmd.Process.Kill()
		release()
		<-exited
		t.Fatal("the plugin did not end on SIGTERM while waiting for the audit log's lock")
	}
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) {
		t.Fatal(waitErr)
	}
	if ee == nil || ee.ExitCode() != 1 {
		t.Fatalf("child ended with %v (a signal, not the protocol's exit 1?); stderr %q", waitErr, stderr)
	}
	wantError(t, result{code: 1, stdout: stdout.String(), stderr: stderr.String()}, proto.ErrorCodeGeneric,
		"withheld", "cancelled while waiting for the log's lock", "audit_log "+log)
	if n := len(auditLines(t, log)); n != 1 {
		t.Errorf("%d lines, want only the first", n)
	}
}

// TestAuditShortWrite (regression, issue 12 #4): a write that failed half
// way left a partial line, and the next record was glued onto it, so a
// JSON-lines reader lost it. A child with RLIMIT_FSIZE just past the end of
// the log (and SIGXFSZ ignored) gets a short write; the file is truncated
// back, and the next record is a line of its own.
func TestAuditShortWrite(t *testing.T) {
	log := newAuditLog(t)
	st, err := os.Stat(log)
	if err != nil {
		t.Fatal(err)
	}
	size := st.Size()
	cmd, stdout, stderr := helper(t, "fsize", helperLog+"="+log, fmt.Sprintf("%s=%d", helperFSize, size+100))
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v; %s", err, stderr)
	}
	for _, w := range []string{"audit log not written", "writing failed after 100 of", "file too large", "the partial line was removed"} {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("the child's error %q lacks %q", stdout, w)
		}
	}
	if st, err := os.Stat(log); err != nil || st.Size() != size {
		t.Fatalf("log is %d bytes after the failed write, want %d (%v)", st.Size(), size, err)
	}
	rec := newAuditRecord(time.Now(), []byte("after"))
	rec.Outcome = "success"
	if err := appendAudit(context.Background(), log, time.Minute, rec); err != nil {
		t.Fatal(err)
	}
	recs := auditLines(t, log)
	if len(recs) != 2 || recs[1].PayloadSHA256 != rec.PayloadSHA256 {
		t.Fatalf("records %+v, want the first and the one after the failed write", recs)
	}
}

// TestAuditRecordsWhoSigned (issue 12): each record names the OS user and
// uid, the host and the parent process, here the test binary that started
// the plugin process.
func TestAuditRecordsWhoSigned(t *testing.T) {
	log := filepath.Join(t.TempDir(), "audit.log")
	cmd, _, stderr := helper(t, "sign", helperLog+"="+log, helperTimeout+"=1m")
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v; %s", err, stderr)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"user", "uid", "host", "parentPid", "parentName", "parentExe"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("record lacks %q: %s", k, data)
		}
	}
	rec := auditLines(t, log)[0]
	exe, _ := os.Executable()
	comm, _ := os.ReadFile("/proc/self/comm")
	host, _ := os.Hostname()
	want := AuditSigner{UID: os.Getuid(), Host: host, ParentPID: os.Getpid(), ParentName: strings.TrimSpace(string(comm)), ParentExe: exe}
	if u, err := user.LookupId(strconv.Itoa(os.Getuid())); err == nil {
		want.User = u.Username
	}
	if rec.AuditSigner != want || want.User == "" || want.ParentName == "" || want.ParentExe == "" {
		t.Errorf("signer %+v, want %+v", rec.AuditSigner, want)
	}
	if rec.Outcome != "success" || rec.KeyID != keyURI {
		t.Errorf("record %+v", rec)
	}
}
