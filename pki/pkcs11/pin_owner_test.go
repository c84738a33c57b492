package pkcs11

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// nobody is the uid the owner tests give a PIN file away to.
const nobody = 65534

// TestReadPINFileFixRuns (regression, issue 12 #6): a 0600 PIN file owned
// by another user was accepted. The file must belong to the effective user
// and give group and others nothing; the error's Fix is the command that
// repairs it, and after running it exactly as printed the file is accepted.
func TestReadPINFileFixRuns(t *testing.T) {
	const secret = "S3cr3t-4711"
	for _, tc := range []struct {
		name   string
		mode   os.FileMode
		owner  int // -1: keep
		reason []string
		fix    string // with PATH for the path
	}{
		{"0640", 0o640, -1, []string{"readable by group or others (mode 0640)"}, "chmod 600 PATH"},
		{"0604", 0o604, -1, []string{"mode 0604"}, "chmod 600 PATH"},
		{"owned by nobody", 0o600, nobody, []string{"owned by uid 65534", "uid 0"}, "chown 0 PATH"},
		{"owned by nobody, 0644", 0o644, nobody, []string{"owned by uid 65534", "mode 0644"}, "chown 0 PATH && chmod 600 PATH"},
		{"a name the shell would split", 0o640, -1, []string{"mode 0640"}, "chmod 600 'PATH'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.owner >= 0 && os.Geteuid() != 0 {
				t.Skip("giving a file to another user needs root (CI runs as root)")
			}
			name := "pin"
			if strings.Contains(tc.name, "shell") {
				name = "my pin; $(touch x) 'q'"
			}
			p := pinWriteFile(t, t.TempDir(), name, secret+"\n", tc.mode)
			if tc.owner >= 0 {
				if err := os.Chown(p, tc.owner, tc.owner); err != nil {
					t.Fatal(err)
				}
			}
			_, err := ReadPIN(&URI{Object: "k", PINSource: p}, func(string) string { return "" })
			var pe *PINFileError
			want := FileMode
			if tc.owner >= 0 {
				want = FileOwner
			}
			if !errors.As(err, &pe) || !errors.Is(err, ErrPINSource) || pe.Problem != want {
				t.Fatalf("ReadPIN = %v, want a *PINFileError (%s)", err, want)
			}
			for _, w := range append(tc.reason, p) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q repeats the PIN", err)
			}
			quoted := p
			if strings.Contains(tc.fix, "'PATH'") {
				quoted = strings.ReplaceAll(p, "'", `'\''`)
			}
			if want := strings.ReplaceAll(tc.fix, "PATH", quoted); pe.Fix() != want {
				t.Errorf("Fix() = %q, want %q", pe.Fix(), want)
			}
			cmd := exec.Command("sh", "-c", pe.Fix())
			cmd.Dir = t.TempDir()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("the printed fix %q failed: %v: %s", pe.Fix(), err, out)
			}
			if entries, _ := os.ReadDir(cmd.Dir); len(entries) != 0 {
				t.Errorf("the fix ran a command hidden in the file name")
			}
			pin, err := ReadPIN(&URI{Object: "k", PINSource: p}, func(string) string { return "" })
			if err != nil || pin.value() != secret {
				t.Fatalf("after the fix: %v", err)
			}
		})
	}
}

// TestReadPINFileSymlinkRefused (regression): a symbolic link to a good
// PIN file was followed; what it points to could be swapped between runs.
func TestReadPINFileSymlinkRefused(t *testing.T) {
	dir := t.TempDir()
	target := pinWriteFile(t, dir, "pin", "4711\n", 0o600)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	_, err := ReadPIN(&URI{Object: "k", PINSource: link}, func(string) string { return "" })
	var pe *PINFileError
	if !errors.As(err, &pe) || pe.Path != link || pe.Problem != FileSymlink || !errors.Is(err, unix.ELOOP) || pe.Fix() != "" {
		t.Fatalf("ReadPIN(symlink to a 0600 file) = %v, want a *PINFileError about the symbolic link", err)
	}
}

// TestReadPINEnvUnset (regression, issue 12 #7): NOTATION_PKCS11_PIN stayed
// in the environment, so the module and every process it starts inherited
// it. After ReadPIN takes the PIN from the variable, the variable is gone,
// and a child started afterwards does not see it.
func TestReadPINEnvUnset(t *testing.T) {
	const secret = "Env-S3cr3t-4711"
	t.Setenv(PINEnv, secret)
	pin, err := ReadPIN(&URI{Object: "k"}, os.Getenv)
	if err != nil || pin.value() != secret {
		t.Fatalf("ReadPIN = %v", err)
	}
	if v, ok := os.LookupEnv(PINEnv); ok {
		t.Fatalf("%s is still set (%d bytes) after ReadPIN", PINEnv, len(v))
	}
	out, err := exec.Command("sh", "-c", "echo \"${"+PINEnv+"-unset}\"").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "unset" {
		t.Errorf("a child started after ReadPIN sees %s (%d bytes)", PINEnv, len(got))
	}

	t.Setenv(PINEnv, secret)
	if got := TakePINEnv(); got != secret {
		t.Errorf("TakePINEnv = %d bytes, want the PIN", len(got))
	}
	if _, ok := os.LookupEnv(PINEnv); ok {
		t.Errorf("%s is still set after TakePINEnv", PINEnv)
	}
	if got := TakePINEnv(); got != "" {
		t.Errorf("second TakePINEnv = %d bytes, want none", len(got))
	}
}
