// Command admissionworld sets up an e2e.AdmissionWorld (a loopback registry
// with signed, unsigned, untrusted, wrong-identity and revoked images, an
// OpenSSL CA serving CRLs and OCSP, the trust policy and trust store),
// prints it as one JSON line on stdout, and keeps its servers running until
// stdin is closed or it gets SIGTERM or SIGINT. It is for tests that cannot
// import internal/e2e: the nested Gatekeeper interop module runs it.
//
//	go run ./internal/e2e/admissionworld -dir DIR [-bench N -signers S -no-ocsp]
//
// It needs the peer tools (see e2e.FindTools). Exit codes: 0 stopped, 1 the
// set-up failed, 2 usage.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/notation-pkcs11/notation-pkcs11/internal/e2e"
)

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("admissionworld", flag.ContinueOnError)
	dir := fs.String("dir", "", "state folder (required; created)")
	bench := fs.Int("bench", 0, "also this many benchmark artifacts")
	signers := fs.Int("signers", 0, "benchmark signers")
	noOCSP := fs.Bool("no-ocsp", false, "certificates without OCSP (CRLs only)")
	if err := fs.Parse(os.Args[1:]); err != nil || *dir == "" || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "admissionworld: usage: admissionworld -dir DIR [-bench N -signers S -no-ocsp]")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	w, err := e2e.NewAdmissionWorld(ctx, *dir, e2e.AdmissionOptions{Bench: *bench, Signers: *signers, NoOCSP: *noOCSP})
	if err != nil {
		fmt.Fprintf(os.Stderr, "admissionworld: error: %v\n", err)
		return 1
	}
	defer w.Close()
	if err := json.NewEncoder(os.Stdout).Encode(w); err != nil {
		fmt.Fprintf(os.Stderr, "admissionworld: error: %v\n", err)
		return 1
	}
	eof := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(eof) }()
	select {
	case <-eof:
	case <-ctx.Done():
	}
	return 0
}
