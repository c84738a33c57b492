package truststore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/notaryproject/notation-go/dir"
	ntruststore "github.com/notaryproject/notation-go/verifier/truststore"
)

// The size caps are deliberate differences from notation-go: these tests
// show that notation loads the store and this package refuses it.

func notationLoads(t *testing.T, l *layout, ref Ref) bool {
	t.Helper()
	_, err := ntruststore.NewX509TrustStore(dir.NewSysFS(l.base)).GetCertificates(context.Background(), ntruststore.Type(ref.Type), ref.Name)
	return err == nil
}

func TestFileSizeCap(t *testing.T) {
	f := newFixtures(t)
	ref := Ref{TypeCA, "s"}

	at := newLayout(t)
	data := pemOf(f.root)
	data = append(data, bytes.Repeat([]byte{'#'}, MaxFileSize-len(data))...)
	at.file(caS+"root.pem", data)
	if _, err := Load(at.root, []Ref{ref}).Certificates(ref); err != nil {
		t.Fatalf("a file of exactly MaxFileSize bytes: %v", err)
	}

	over := newLayout(t)
	over.file(caS+"root.pem", append(data, '#'))
	_, err := Load(over.root, []Ref{ref}).Certificates(ref)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "4 MiB") || !strings.Contains(err.Error(), "file root.pem") {
		t.Fatalf("a file over MaxFileSize: %v", err)
	}
	if !notationLoads(t, over, ref) {
		t.Error("notation-go rejects the large file too; the difference is gone, update the package doc")
	}
}

func TestCertificateCountCap(t *testing.T) {
	f := newFixtures(t)
	ref := Ref{TypeCA, "s"}

	at := newLayout(t)
	at.file(caS+"a.pem", bytes.Repeat(pemOf(f.root), MaxCertificates-1))
	at.file(caS+"b.der", derOf(f.root2))
	c, err := Load(at.root, []Ref{ref}).Certificates(ref)
	if err != nil || len(c) != MaxCertificates {
		t.Fatalf("a store of exactly MaxCertificates: %d, %v", len(c), err)
	}

	over := newLayout(t)
	over.file(caS+"a.pem", bytes.Repeat(pemOf(f.root), MaxCertificates))
	over.file(caS+"b.der", derOf(f.root2))
	_, err = Load(over.root, []Ref{ref}).Certificates(ref)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "1000") {
		t.Fatalf("a store over MaxCertificates: %v", err)
	}
	if !notationLoads(t, over, ref) {
		t.Error("notation-go rejects the large store too; the difference is gone, update the package doc")
	}
	if probs := Lint(over.root, nil); len(probs) != 1 || !errors.Is(probs[0], ErrTooLarge) {
		t.Errorf("Lint: %v", probs)
	}
}

// TestPermissions compares unreadable files and folders with notation-go.
// Permission bits do not stop root, so as root (CI) it runs again in a
// child process under an unprivileged uid.
func TestPermissions(t *testing.T) {
	switch os.Geteuid() {
	case 0:
		runUnprivileged(t, "TestPermissions")
		return
	case -1:
		t.Skip("os.Geteuid is -1: this platform has no Unix permission bits")
	}
	f := newFixtures(t)
	ref := Ref{TypeCA, "s"}
	for _, tc := range []struct {
		name  string
		build func(l *layout)
		chmod string
		mode  os.FileMode
	}{
		{"unreadable file", func(l *layout) { l.file(caS+"root.pem", pemOf(f.root)) }, caS + "root.pem", 0},
		{"unreadable store folder", func(l *layout) { l.file(caS+"root.pem", pemOf(f.root)) }, caS, 0o300},
		{"unsearchable type folder", func(l *layout) { l.file(caS+"root.pem", pemOf(f.root)) }, "x509/ca", 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLayout(t)
			tc.build(l)
			p := l.path(tc.chmod)
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(p, 0o755) })
			_, err := Load(l.root, []Ref{ref}).Certificates(ref)
			if err == nil {
				t.Fatal("loaded an unreadable store")
			}
			if !errors.Is(err, ErrAccess) || !errors.Is(err, os.ErrPermission) {
				t.Errorf("error %v does not wrap ErrAccess and os.ErrPermission", err)
			}
			if notationLoads(t, l, ref) {
				t.Error("notation-go loads it")
			}
		})
	}
}
