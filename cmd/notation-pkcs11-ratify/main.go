// Command notation-pkcs11-ratify is a Ratify v1 external verifier: Ratify
// runs it once per Notary Project signature and it verifies the signature
// with this project's trust-policy engine and revocation checker (package
// ratifyverifier holds the logic).
//
// Install it into a folder listed in the verifier section's pluginBinDirs of
// Ratify's config.json under the file name that the verifier entry's "type"
// gives ("notation-pkcs11-ratify"). See docs/ratify.md.
//
// Exit status: 0 with one line of JSON (the verifier result) on stdout,
// whether or not the signature verified; 1 with Ratify's plugin error object
// {"code":N,"msg":"..."} on stdout when the request could not be served
// (missing environment, malformed request, bad configuration). Nothing is
// ever written to stderr: Ratify merges it with stdout.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/notation-pkcs11/notation-pkcs11/ratifyverifier"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Getenv, os.Stdin, os.Stdout, ratifyverifier.Deps{})
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, getenv func(string) string, stdin io.Reader, stdout io.Writer, deps ratifyverifier.Deps) int {
	resp, perr := ratifyverifier.Run(ctx, getenv, stdin, deps)
	if perr != nil {
		_, _ = stdout.Write(perr.Marshal())
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
