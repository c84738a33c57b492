package trustpolicy_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
)

// TestLoadDocument: the file rules of load.go, each failure with its own
// error value and naming the path.
func TestLoadDocument(t *testing.T) {
	dir := t.TempDir()
	valid := filepath.Join("testdata", "policy", "valid.json")
	abs, err := filepath.Abs(valid)
	if err != nil {
		t.Fatal(err)
	}
	if doc, err := trustpolicy.LoadDocument(valid); err != nil || len(doc.TrustPolicies) != 4 {
		t.Fatalf("LoadDocument(valid) = %v", err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(abs, link); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "dir.json")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, bytes.Repeat([]byte(" "), trustpolicy.MaxPolicyFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Logf("no fifo: %v", err)
		fifo = ""
	}
	cases := []struct {
		path string
		want error
		msg  string
	}{
		{filepath.Join(dir, "missing.json"), trustpolicy.ErrPolicyNotFound, "does not exist"},
		{filepath.Join(dir, "missing", "trustpolicy.json"), trustpolicy.ErrPolicyNotFound, "does not exist"},
		{link, trustpolicy.ErrPolicyNotRegular, "symlink"},
		{sub, trustpolicy.ErrPolicyNotRegular, "directory"},
		{big, trustpolicy.ErrPolicyUnreadable, "16 MiB"},
		{filepath.Join("testdata", "policy", "malformed.json"), trustpolicy.ErrMalformedPolicy, "line 4"},
		{filepath.Join("testdata", "policy", "wrong-type.json"), trustpolicy.ErrMalformedPolicy, "trustPolicies"},
	}
	if fifo != "" {
		cases = append(cases, struct {
			path string
			want error
			msg  string
		}{fifo, trustpolicy.ErrPolicyNotRegular, "named pipe"})
	}
	if os.Geteuid() != 0 {
		noread := filepath.Join(dir, "noread.json")
		if err := os.WriteFile(noread, []byte("{}"), 0o000); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct {
			path string
			want error
			msg  string
		}{noread, trustpolicy.ErrPolicyUnreadable, "permission denied"})
	} else {
		t.Log("running as root: the permission case is not testable")
	}
	sentinels := []error{trustpolicy.ErrPolicyNotFound, trustpolicy.ErrPolicyNotRegular, trustpolicy.ErrPolicyUnreadable, trustpolicy.ErrMalformedPolicy}
	for _, tc := range cases {
		_, err := trustpolicy.LoadDocument(tc.path)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("LoadDocument(%s) = %v, want %v mentioning %q", tc.path, err, tc.want, tc.msg)
			continue
		}
		for _, s := range sentinels {
			if s != tc.want && errors.Is(err, s) {
				t.Errorf("LoadDocument(%s) = %v is also %v", tc.path, err, s)
			}
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			t.Errorf("LoadDocument(%s) exposes %v", tc.path, pe)
		}
	}
}
