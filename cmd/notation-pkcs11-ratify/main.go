// Command notation-pkcs11-ratify is a Ratify v1 external verifier: Ratify
// runs it once per Notary Project signature and it verifies the signature
// with this project's trust-policy engine and revocation checker (package
// ratifyverifier holds the logic).
//
// Install it into a folder listed in the verifier section's pluginBinDirs of
// Ratify's config.json under the file name that the verifier entry's "type"
// gives ("notation-pkcs11-ratify"). See docs/ratify.md.
//
// Run without arguments, as Ratify runs it (RATIFY_VERIFIER_* environment,
// the request as JSON on stdin), it speaks Ratify's protocol. Exit status: 0
// with one line of JSON (the verifier result) on stdout, whether or not the
// signature verified; 1 with Ratify's plugin error object
// {"code":N,"msg":"..."} on stdout when the request could not be served
// (missing environment, malformed request, bad configuration). Nothing is
// ever written to stderr on this path: Ratify merges it with stdout.
//
// Run with arguments, it is a command for people (Ratify never passes
// arguments): -h/--help, version [--output json], completion. Exit status 0,
// 1 on failure, 2 on a usage mistake (one line on stderr).
package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/ratifyverifier"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr, ratifyverifier.Deps{})
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit status. Without
// arguments it serves one Ratify request and never writes to stderr; with
// arguments it runs the command line through cobra.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer, deps ratifyverifier.Deps) int {
	if len(args) == 0 {
		return serve(ctx, getenv, stdin, stdout, deps)
	}
	return cli.Execute(newRoot(), args, stdout, stderr)
}

// serve is the protocol path: one line of JSON on stdout, exit 0 with a
// verifier result or 1 with Ratify's plugin error object.
func serve(ctx context.Context, getenv func(string) string, stdin io.Reader, stdout io.Writer, deps ratifyverifier.Deps) int {
	resp, err := ratifyverifier.Run(ctx, getenv, stdin, deps)
	if err != nil {
		var pe *ratifyverifier.ProtocolError
		if !errors.As(err, &pe) {
			pe = &ratifyverifier.ProtocolError{Code: ratifyverifier.CodeInternal, Msg: err.Error(), Err: err}
		}
		_, _ = stdout.Write(pe.Marshal())
		return 1
	}
	b, err := resp.Marshal()
	if err != nil {
		_, _ = stdout.Write((&ratifyverifier.ProtocolError{Code: ratifyverifier.CodeInternal, Msg: err.Error()}).Marshal())
		return 1
	}
	if _, err := stdout.Write(b); err != nil {
		return 1
	}
	return 0
}
