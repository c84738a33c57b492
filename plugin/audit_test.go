package plugin

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

const testPayloadJSON = `{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","size":7}}`

// coseSigStructure builds ["Signature1", protected, h”, payload] in CBOR.
func coseSigStructure(protected, payload []byte) []byte {
	bstr := func(b []byte) []byte {
		switch n := len(b); {
		case n < 24:
			return append([]byte{0x40 | byte(n)}, b...)
		case n < 256:
			return append([]byte{0x58, byte(n)}, b...)
		default:
			return append([]byte{0x59, byte(n >> 8), byte(n)}, b...)
		}
	}
	out := []byte{0x84, 0x6a}
	out = append(out, "Signature1"...)
	out = append(out, bstr(protected)...)
	out = append(out, bstr(nil)...)
	return append(out, bstr(payload)...)
}

func TestTargetOf(t *testing.T) {
	jws := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(testPayloadJSON))
	cases := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"JWS signing input", []byte(jws), "sha256:aa"},
		{"COSE Sig_structure", coseSigStructure([]byte{0xa1, 0x01, 0x26}, []byte(testPayloadJSON)), "sha256:aa"},
		{"COSE with a long payload", coseSigStructure(make([]byte, 300), []byte(testPayloadJSON+strings.Repeat(" ", 300))), "sha256:aa"},
		{"COSE truncated", coseSigStructure(nil, []byte(testPayloadJSON))[:20], ""},
		{"COSE with trailing bytes", append(coseSigStructure(nil, []byte(testPayloadJSON)), 0), ""},
		{"not a payload", []byte("hello"), ""},
		{"JWS without target", []byte("a." + base64.RawURLEncoding.EncodeToString([]byte(`{}`))), ""},
		{"empty", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := targetOf(c.payload)
			switch {
			case c.want == "" && got != nil:
				t.Fatalf("got %+v, want none", got)
			case c.want != "" && (got == nil || got.Digest != c.want || got.MediaType == ""):
				t.Fatalf("got %+v, want digest %s", got, c.want)
			}
		})
	}
}

// FuzzTargetOf: never a panic on what notation (or anyone) sends.
func FuzzTargetOf(f *testing.F) {
	f.Add(coseSigStructure(nil, []byte(testPayloadJSON)))
	f.Add([]byte("a.b"))
	f.Fuzz(func(t *testing.T, b []byte) { _ = targetOf(b) })
}

func TestAppendAuditConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rec := newAuditRecord(time.Now(), []byte(strings.Repeat("x", i*100)))
			rec.KeyID, rec.Outcome = "pkcs11:token=t;object=k", "success"
			rec.Error = strings.Repeat("e", 5000) // truncated to maxAuditMessage
			errs <- appendAudit(context.Background(), path, time.Minute, rec)
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %04o, want 0600", st.Mode().Perm())
	}
	f, _ := os.Open(path)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	lines := 0
	for sc.Scan() {
		var rec AuditRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %d is not one JSON record (interleaved write?): %v", lines+1, err)
		}
		if len(rec.Error) > maxAuditMessage+3 {
			t.Fatalf("error not truncated: %d bytes", len(rec.Error))
		}
		lines++
	}
	if lines != n {
		t.Fatalf("%d lines, want %d", lines, n)
	}
}

func TestAppendAuditRefuses(t *testing.T) {
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose.log")
	if err := os.WriteFile(loose, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o666); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.log")
	if err := os.Symlink(filepath.Join(dir, "target"), link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.log")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		problem    pkcs11.FileProblem
		is         error // also wrapped, or nil
		fix        string
	}{
		{"writable by others", loose, pkcs11.FileMode, nil, "chmod 600 " + loose},
		{"a folder", dir, pkcs11.FileOpen, syscall.EISDIR, ""},
		{"a symlink", link, pkcs11.FileSymlink, syscall.ELOOP, ""},
		{"a FIFO", fifo, pkcs11.FileNotRegular, nil, ""},
		{"missing folder", filepath.Join(dir, "no", "such", "audit.log"), pkcs11.FileOpen, fs.ErrNotExist, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := appendAudit(context.Background(), c.path, time.Minute, &AuditRecord{Outcome: "success"})
			var ae *AuditLogError
			if !errors.As(err, &ae) || !errors.Is(err, ErrAudit) || ae.Path != c.path || ae.Problem != c.problem || (c.is != nil && !errors.Is(err, c.is)) {
				t.Fatalf("got %v, want an *AuditLogError for %s: %s (%v)", err, c.path, c.problem, c.is)
			}
			if ae.Fix() != c.fix {
				t.Errorf("Fix() = %q, want %q", ae.Fix(), c.fix)
			}
		})
	}
}

func TestParseConfigAuditLog(t *testing.T) {
	if cfg, err := ParseConfig(map[string]string{ConfigAuditLog: "/var/log/notation/../sign.log"}); err != nil || cfg.AuditLog != "/var/log/sign.log" {
		t.Fatalf("got %+v, %v", cfg, err)
	}
	var ce *ConfigError
	if _, err := ParseConfig(map[string]string{ConfigAuditLog: "relative.log"}); !errors.As(err, &ce) || ce.Key != ConfigAuditLog || ce.Problem != ConfigInvalidValue {
		t.Fatalf("relative audit_log: %v", err)
	}
}

// BenchmarkAppendAudit measures what audit_log adds to one signature:
// building the record from a COSE payload and the locked O_APPEND write.
func BenchmarkAppendAudit(b *testing.B) {
	path := filepath.Join(b.TempDir(), "audit.log")
	payload := coseSigStructure([]byte{0xa1, 0x01, 0x26}, []byte(testPayloadJSON))
	for b.Loop() {
		rec := newAuditRecord(time.Now(), payload)
		rec.KeyID, rec.KeySpec, rec.Outcome = "pkcs11:token=t;object=k;id=%01", "EC-256", "success"
		if err := appendAudit(context.Background(), path, time.Minute, rec); err != nil {
			b.Fatal(err)
		}
	}
}
