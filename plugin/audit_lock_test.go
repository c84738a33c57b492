package plugin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	proto "github.com/notaryproject/notation-plugin-framework-go/plugin"
	"golang.org/x/sys/unix"

	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// newAuditLog makes an audit log as the plugin does (0600, one record).
func newAuditLog(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	rec := newAuditRecord(time.Now(), []byte("first"))
	rec.Outcome = "success"
	if err := appendAudit(context.Background(), path, time.Minute, rec); err != nil {
		t.Fatal(err)
	}
	return path
}

// holdLock takes the audit log's flock through an open file description of
// its own, as another process reading the log could; the lock is released
// at cleanup or by the returned function.
func holdLock(t *testing.T, path string) (release func()) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	release = func() { _ = f.Close() }
	t.Cleanup(release)
	return release
}

// testBudget fires shortly before the test binary's -timeout would end the
// whole run, so that a hang fails the test with a message instead.
func testBudget(t *testing.T) <-chan time.Time {
	d, ok := t.Deadline()
	if !ok {
		return nil // no -timeout: wait for as long as it takes
	}
	return time.After(time.Until(d) - 10*time.Second)
}

// auditLines parses the audit log; every line must be one JSON record.
func auditLines(t *testing.T, path string) []AuditRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []AuditRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec AuditRecord
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("line %d is not one JSON record: %v: %q", len(out)+1, err, sc.Text())
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAuditLockTimeout (regression, issue 12 #3): anyone who could open
// the log could take its lock, and the plugin waited for it forever. The
// wait is bounded by pluginConfig timeout and ends in TIMEOUT.
func TestAuditLockTimeout(t *testing.T) {
	log := newAuditLog(t)
	release := holdLock(t, log)
	kt := keyTypeOf(t, "ec-256")
	for _, tc := range []struct {
		name string
		env  env
		code proto.ErrorCode
		want []string
	}{
		{"success withheld", stdEnv(fakeModule(t)), proto.ErrorCodeTimeout, []string{"withheld", "held the log's lock (flock) for longer than the time-out 50ms", "audit_log " + log}},
		{"failure record", env{ModuleEnv: fakeModule(t), pkcs11.PINEnv: wrongPIN}, proto.ErrorCodeAccessDenied, []string{"PIN is incorrect", "held the log's lock"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &fakeBackend{t: t, tok: goodToken(t, "ec-256", true)}
			p := newPlugin(b, tc.env, nil)
			done := make(chan result, 1)
			go func() {
				done <- runPlugin(t, p, "generate-signature", signReq(keyURI, kt, map[string]string{ConfigAuditLog: log, ConfigTimeout: "50ms"}))
			}()
			select {
			case r := <-done:
				wantError(t, r, tc.code, tc.want...)
			case <-testBudget(t):
				release()
				<-done
				t.Fatal("generate-signature waited for the audit log's lock past pluginConfig timeout")
			}
		})
	}
	if n := len(auditLines(t, log)); n != 1 {
		t.Errorf("%d lines, want only the first", n)
	}

	t.Run("unit", func(t *testing.T) {
		err := appendAudit(context.Background(), log, time.Millisecond, &AuditRecord{Outcome: "success"})
		var ae *AuditLogError
		if !errors.Is(err, pkcs11.ErrTimeout) || !errors.Is(err, ErrAudit) || !errors.As(err, &ae) || ae.Path != log {
			t.Fatalf("got %v, want an *AuditLogError wrapping ErrTimeout", err)
		}
		if pe := ToProtocolError(err); pe.ErrCode != proto.ErrorCodeTimeout {
			t.Errorf("protocol code %s, want TIMEOUT", pe.ErrCode)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := appendAudit(ctx, log, time.Hour, &AuditRecord{Outcome: "success"})
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrAudit) || errors.Is(err, pkcs11.ErrTimeout) {
			t.Fatalf("got %v, want an audit error wrapping context.Canceled", err)
		}
	})
	t.Run("free lock", func(t *testing.T) {
		release()
		if err := appendAudit(context.Background(), log, time.Millisecond, &AuditRecord{Outcome: "success"}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAuditLogOwnerAndMode (regression, issue 12 #3): a log that others can
// open (0644) lets them hold its lock, and a log owned by another user is
// theirs to rewrite. Both are refused with the path, the owner or mode, and
// a fix that works exactly as printed.
func TestAuditLogOwnerAndMode(t *testing.T) {
	kt := keyTypeOf(t, "ec-256")
	for _, tc := range []struct {
		name  string
		mode  os.FileMode
		owner int // -1: keep
		want  []string
		fix   string // PATH stands for the path
	}{
		{"readable by others", 0o644, -1, []string{"open to group or others (mode 0644)"}, "chmod 600 PATH"},
		{"readable by group", 0o640, -1, []string{"mode 0640"}, "chmod 600 PATH"},
		{"owned by nobody", 0o600, 65534, []string{"owned by uid 65534", "(uid 0)"}, "chown 0 PATH"},
		{"owned by nobody and 0644", 0o644, 65534, []string{"owned by uid 65534", "mode 0644"}, "chown 0 PATH && chmod 600 PATH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.owner >= 0 && os.Geteuid() != 0 {
				t.Skip("giving a file to another user needs root (CI runs as root)")
			}
			log := newAuditLog(t)
			if err := os.Chmod(log, tc.mode); err != nil {
				t.Fatal(err)
			}
			if tc.owner >= 0 {
				if err := os.Chown(log, tc.owner, tc.owner); err != nil {
					t.Fatal(err)
				}
			}
			b := &fakeBackend{t: t, tok: goodToken(t, "ec-256", true)}
			p := newPlugin(b, stdEnv(fakeModule(t)), nil)
			req := signReq(keyURI, kt, map[string]string{ConfigAuditLog: log})
			fix := strings.ReplaceAll(tc.fix, "PATH", log)
			wantError(t, runPlugin(t, p, "generate-signature", req), proto.ErrorCodeGeneric,
				append(tc.want, "withheld", "audit_log "+log, "; run: "+fix)...)
			err := appendAudit(context.Background(), log, time.Minute, &AuditRecord{})
			var ae *AuditLogError
			problem := pkcs11.FileMode
			if tc.owner >= 0 {
				problem = pkcs11.FileOwner
			}
			if !errors.As(err, &ae) || ae.Fix() != fix || ae.Problem != problem {
				t.Fatalf("appendAudit = %v, want an *AuditLogError (%s) with fix %q", err, problem, fix)
			}
			if out, err := exec.Command("sh", "-c", ae.Fix()).CombinedOutput(); err != nil {
				t.Fatalf("the printed fix %q failed: %v: %s", ae.Fix(), err, out)
			}
			wantOK[proto.GenerateSignatureResponse](t, runPlugin(t, p, "generate-signature", req))
			if recs := auditLines(t, log); len(recs) != 2 || recs[1].Outcome != "success" {
				t.Fatalf("after the fix: %+v", recs)
			}
		})
	}
}

// A partial line left behind (a crash in the middle of a write, or a
// truncation that failed) does not swallow the next record: it starts on a
// line of its own.
func TestAuditAfterPartialLine(t *testing.T) {
	log := newAuditLog(t)
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"time":"2026-01-01T00:00:00Z","keyId":"pkcs11:obj`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	rec := newAuditRecord(time.Now(), []byte("next"))
	rec.Outcome = "success"
	if err := appendAudit(context.Background(), log, time.Minute, rec); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), data)
	}
	var last AuditRecord
	if err := json.Unmarshal([]byte(lines[2]), &last); err != nil || last.PayloadSHA256 != rec.PayloadSHA256 {
		t.Fatalf("the new record is not a line of its own: %v: %q", err, lines[2])
	}
}
