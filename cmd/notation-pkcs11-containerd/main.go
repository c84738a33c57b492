// Command notation-pkcs11-containerd is a containerd image verifier: put it
// in the bin_dir of containerd's bindir image verifier plugin and every
// pull (ctr image pull, and kubelet pulls through the transfer service)
// runs it first; it allows the pull only when the image's Notary Project
// signature verifies under the node's trust policy (package
// containerdverifier holds the logic; see docs/containerd.md).
//
// Run as containerd runs it (-name REF -digest DIGEST -stdin-media-type
// application/vnd.oci.descriptor.v1+json, the descriptor on stdin), it
// prints the reason on stdout (first line: the summary with its fix) and
// debug lines on stderr, and exits 0 (allowed), 1 (refused: the image did
// not verify), 2 (refused: bad invocation), 3 (refused: configuration not
// clean) or 4 (refused: timed out).
//
// Run by a person (any other arguments): -h, check, version, completion;
// exit 0 ok, 1 failed (check: a problem found), 2 usage.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/notation-pkcs11/notation-pkcs11/containerdverifier"
	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if containerdverifier.IsProtocol(args) {
		return verify(ctx, args, getenv, stdin, stdout, stderr)
	}
	return cli.Execute(newRoot(getenv), args, stdout, stderr)
}

// verify is the protocol path: the reason on stdout in one write, debug
// lines on stderr, the exit code.
func verify(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	o := containerdverifier.Run(ctx, args, containerdverifier.Env{Getenv: getenv, Stdin: stdin})
	for _, l := range o.Debug {
		fmt.Fprintf(stderr, "%s: %s\n", name, l)
	}
	_, _ = io.WriteString(stdout, o.Reason+"\n")
	return o.Code
}
