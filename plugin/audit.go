package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// ErrAudit: the audit log could not be written; the signature is withheld.
var ErrAudit = errors.New("audit log not written")

// maxAuditMessage caps the error text in one audit line.
const maxAuditMessage = 2048

// AuditRecord is one line of the audit log (pluginConfig audit_log): one
// per generate-signature request that got as far as a parsed pluginConfig,
// whether it succeeded or not. It never holds a PIN: the key URI is the
// parsed one, and pin-value is refused before a record exists.
//
// The JSON field names, in order: time, user, uid, host, parentPid,
// parentName, parentExe, keyId, keySpec, certificateSha256, payloadSha256,
// targetArtifact, outcome, errorCode, error.
type AuditRecord struct {
	Time string `json:"time"` // UTC, RFC 3339 with nanoseconds
	// AuditSigner says who asked for the signature.
	AuditSigner
	// KeyID is the key URI in canonical form; empty when the key id did
	// not parse (it is then not echoed, as it might be a PIN).
	KeyID   string `json:"keyId"`
	KeySpec string `json:"keySpec,omitempty"`
	// CertificateSHA256 is the hex SHA-256 fingerprint of the signing
	// certificate, once it was found.
	CertificateSHA256 string `json:"certificateSha256,omitempty"`
	// PayloadSHA256 is the hex SHA-256 of the payload notation sent (the
	// JWS signing input or the COSE Sig_structure).
	PayloadSHA256 string `json:"payloadSha256"`
	// TargetArtifact is read from the payload when it parses: the artifact
	// being signed.
	TargetArtifact *AuditTarget `json:"targetArtifact,omitempty"`
	Outcome        string       `json:"outcome"` // "success" or "failure"
	ErrorCode      string       `json:"errorCode,omitempty"`
	Error          string       `json:"error,omitempty"`
}

// AuditSigner is who signed: the plugin process's user and host, and the
// process that started the plugin (notation, or whatever ran it). Fields
// that cannot be found are left empty; the names come from the system and
// are written JSON-escaped.
type AuditSigner struct {
	User string `json:"user,omitempty"` // OS user name of the real uid
	UID  int    `json:"uid"`            // real uid of the plugin process
	Host string `json:"host,omitempty"` // host name
	// ParentPID is the parent process: the one that ran the plugin.
	ParentPID int `json:"parentPid"`
	// ParentName is the parent's command name (/proc/PPID/comm, Linux),
	// which the parent can set itself; ParentExe is its executable
	// (/proc/PPID/exe, Linux), when this user may read it.
	ParentName string `json:"parentName,omitempty"`
	ParentExe  string `json:"parentExe,omitempty"`
}

// AuditTarget is the Notary Project payload's targetArtifact descriptor.
type AuditTarget struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size,omitempty"`
}

func newAuditRecord(now time.Time, payload []byte) *AuditRecord {
	sum := sha256.Sum256(payload)
	return &AuditRecord{
		Time:           now.UTC().Format(time.RFC3339Nano),
		PayloadSHA256:  hex.EncodeToString(sum[:]),
		TargetArtifact: targetOf(payload),
	}
}

// currentSigner describes this process's user and host and its parent.
func currentSigner() AuditSigner {
	s := AuditSigner{UID: os.Getuid(), ParentPID: os.Getppid()}
	s.User = userName(s.UID)
	s.Host, _ = os.Hostname()
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", s.ParentPID)); err == nil {
		s.ParentName = strings.TrimSuffix(string(b), "\n")
	}
	s.ParentExe, _ = os.Readlink(fmt.Sprintf("/proc/%d/exe", s.ParentPID))
	return s
}

// AuditLogError says why the audit log was not written, and how to fix it
// when a command does. It wraps ErrAudit, and the cause: pkcs11.ErrTimeout
// when another process held the log's lock for longer than pluginConfig
// timeout, the context's error when the request was cancelled (SIGTERM),
// or the file-system error.
type AuditLogError struct {
	Path string // the audit_log path
	// Problem is what is wrong with the file when the file is refused;
	// "" when taking the lock or writing failed (Err says why).
	Problem pkcs11.FileProblem
	Reason  string
	Err     error // the cause, or nil
	fix     string
}

func (e *AuditLogError) Error() string {
	return fmt.Sprintf("%s: audit_log %s: %s", ErrAudit, e.Path, e.Reason)
}

func (e *AuditLogError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrAudit, e.Err}
	}
	return []error{ErrAudit}
}

// Fix is the shell command that makes the file acceptable, exactly as it is
// to be run, or "" when no command does.
func (e *AuditLogError) Fix() string { return e.fix }

func auditError(path, reason string, err error, fix string) error {
	return &AuditLogError{Path: path, Reason: reason, Err: err, fix: fix}
}

// auditFileError is an AuditLogError for a refused file.
func auditFileError(path string, p pkcs11.FileProblem, reason string, err error, fix string) error {
	return &AuditLogError{Path: path, Problem: p, Reason: reason, Err: err, fix: fix}
}

// appendAudit appends rec as one JSON line to path, under an exclusive
// flock that it waits for at most timeout (and no longer than ctx lives),
// with a single write on a file opened O_APPEND, so that lines of
// concurrent signers never interleave. A write that fails or falls short
// is undone (the file is truncated back to its size before the write), so
// no partial line is left for the next record to be glued onto.
//
// The file is created 0600. An existing file must be a regular file (not a
// symbolic link) owned by the effective user that group and others have no
// permission on: anyone who can open the file can hold its lock.
func appendAudit(ctx context.Context, path string, timeout time.Duration, rec *AuditRecord) error {
	if len(rec.Error) > maxAuditMessage {
		rec.Error = rec.Error[:maxAuditMessage] + "..."
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAudit, err)
	}
	line = append(line, '\n')
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
	if err != nil {
		var cause error = err
		if pe := (*os.PathError)(nil); errors.As(err, &pe) {
			cause = pe.Err
		}
		if errors.Is(err, unix.ELOOP) {
			return auditFileError(path, pkcs11.FileSymlink, "is a symbolic link, which is refused; name the file itself in pluginConfig audit_log", cause, "")
		}
		return auditFileError(path, pkcs11.FileOpen, cause.Error()+"; fix the audit_log path or its folder's permissions", cause, "")
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return auditFileError(path, pkcs11.FileOpen, err.Error(), err, "")
	}
	if err := checkAuditFile(path, st); err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := lockFile(lctx, f); err != nil {
		switch {
		case ctx.Err() != nil:
			return auditError(path, "cancelled while waiting for the log's lock", ctx.Err(), "")
		case lctx.Err() != nil:
			return auditError(path, fmt.Sprintf("another process held the log's lock (flock) for longer than the time-out %s (pluginConfig timeout)", timeout), pkcs11.ErrTimeout, "")
		}
		return auditError(path, "locking: "+err.Error(), err, "")
	}
	return writeLine(f, path, line)
}

// writeLine appends line under the lock. A line that does not end the
// file's last line (a partial line that could not be undone earlier) is
// started on a line of its own.
func writeLine(f *os.File, path string, line []byte) error {
	st, err := f.Stat()
	if err != nil {
		return auditError(path, err.Error(), err, "")
	}
	size := st.Size()
	if size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err != nil {
			return auditError(path, "reading its last byte: "+err.Error(), err, "")
		}
		if last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	n, err := f.Write(line)
	if err == nil && n == len(line) {
		return nil
	}
	if err == nil {
		err = io.ErrShortWrite
	}
	if terr := f.Truncate(size); terr != nil {
		return auditError(path, fmt.Sprintf("writing failed after %d of %d bytes (%v), and truncating it back to %d bytes failed too (%v): its last line is partial", n, len(line), err, size, terr), err, "")
	}
	return auditError(path, fmt.Sprintf("writing failed after %d of %d bytes (%v); the partial line was removed", n, len(line), err), err, "")
}

// checkAuditFile refuses what is not a regular file owned by the effective
// user with no permission for group or others; the fix runs the chown and
// chmod that repair it.
func checkAuditFile(path string, st os.FileInfo) error {
	if !st.Mode().IsRegular() {
		return auditFileError(path, pkcs11.FileNotRegular, "not a regular file", nil, "")
	}
	euid := os.Geteuid()
	var reasons, fixes []string
	var problem pkcs11.FileProblem
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != euid {
		reasons = append(reasons, fmt.Sprintf("owned by uid %d, not by the signing user (uid %d), who could then not trust its lines", sys.Uid, euid))
		fixes = append(fixes, chownCommand(euid, path))
		problem = pkcs11.FileOwner
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		reasons = append(reasons, fmt.Sprintf("open to group or others (mode %04o), who could forge lines or hold its lock", perm))
		fixes = append(fixes, "chmod 600 "+shellQuote(path))
		if problem == "" {
			problem = pkcs11.FileMode
		}
	}
	if len(reasons) == 0 {
		return nil
	}
	return auditFileError(path, problem, strings.Join(reasons, " and "), nil, strings.Join(fixes, " && "))
}

// lockFile takes an exclusive flock on f, polling so that ctx can end the
// wait (flock itself cannot be interrupted).
func lockFile(ctx context.Context, f *os.File) error {
	for wait := time.Millisecond; ; wait = min(2*wait, 20*time.Millisecond) {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
