// Command notation-pkcs11 is a Notation signing plugin for keys held in a
// PKCS#11 hardware security module.
//
// Installed as $NOTATION_LIBEXEC/plugins/pkcs11/notation-pkcs11 (use
// `notation plugin install --file notation-pkcs11`), notation runs it with
// one protocol command and a JSON request on stdin: the answer is JSON on
// stdout (exit 0) or a JSON error on stderr (exit 1). Run by a person, it
// has the workflow commands token list, key list, key generate, csr, cert
// import, cert lint, doctor, version and completion (see -h and
// docs/pki-workflow.md), built on package internal/cli: -h on every
// command, one-line errors, --output json with a schema on every document.
// The PIN is never taken on the command line.
//
// While a command runs, file descriptors 1 and 2 point at /dev/null and the
// real output goes to duplicates of them, so nothing a PKCS#11 module
// prints can corrupt the protocol's JSON or a command's output.
//
// Exit codes: 0 success; 1 the request or operation failed, or cert lint
// found a broken rule; 2 usage error (a bad flag or argument, a missing or
// unreadable input file); doctor 3-12 naming the first broken link.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
	"github.com/notation-pkcs11/notation-pkcs11/plugin"
)

const version = "0.1.0"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, processEnv()))
}

// processEnv returns a getenv over the process environment that keeps
// NOTATION_PKCS11_PIN to itself: the variable is taken out of the
// environment first (pkcs11.TakePINEnv), so that a PKCS#11 module and any
// process it starts do not inherit the PIN.
func processEnv() func(string) string {
	pin := pkcs11.TakePINEnv()
	return func(k string) string {
		if k == pkcs11.PINEnv {
			return pin
		}
		return os.Getenv(k)
	}
}

// run runs one command and returns the exit code. The protocol commands
// notation runs are answered before (and without) the command tree.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 0 && plugin.IsCommand(args[0]) {
		return protocol(ctx, args, stdin, stdout, stderr, getenv)
	}
	return human(ctx, args, stdout, stderr, getenv)
}

// isProcessOutput reports whether the writers are the process's own fds 1
// and 2, which silenceDescriptors may redirect.
func isProcessOutput(stdout, stderr io.Writer) bool {
	o, ok1 := stdout.(*os.File)
	e, ok2 := stderr.(*os.File)
	return ok1 && ok2 && o == os.Stdout && e == os.Stderr
}

// protocol answers one plugin protocol command with fds 1 and 2 silenced
// for the module's sake; the real outputs are duplicates.
func protocol(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) (code int) {
	if len(args) != 1 {
		fmt.Fprintf(stderr, `{"errorCode":"VALIDATION_ERROR","errorMessage":"%s takes no arguments; the request comes on stdin"}`, args[0])
		return 1
	}
	if isProcessOutput(stdout, stderr) {
		out, errOut, err := silenceDescriptors()
		if err != nil {
			fmt.Fprintf(stderr, `{"errorCode":"ERROR","errorMessage":%q}`, err.Error())
			return 1
		}
		defer out.Close()
		defer errOut.Close()
		stdout, stderr = out, errOut
	}
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, `{"errorCode":"ERROR","errorMessage":%q}`, fmt.Sprintf("internal error: %v", r))
			code = 1
		}
	}()
	opts := plugin.Options{Version: version, Getenv: getenv}
	if state := plugin.DefaultStateDir(getenv); state != "" {
		opts.Cache = &plugin.KeyCache{Dir: filepath.Join(state, "keys")}
		opts.LockDir = filepath.Join(state, "locks")
	}
	p := plugin.New(opts)
	return p.Run(ctx, args[0], stdin, stdout, stderr)
}

// human runs a command of the tree (newRoot) under the internal/cli
// contract. A module loaded by the command may print to fds 1 and 2: they
// point at /dev/null meanwhile, and the output goes to their duplicates.
func human(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) (code int) {
	if isProcessOutput(stdout, stderr) {
		out, errOut, err := silenceDescriptors()
		if err != nil {
			fmt.Fprintf(stderr, "notation-pkcs11: error: %v\n", err)
			return cli.ExitFailed
		}
		defer out.Close()
		defer errOut.Close()
		stdout, stderr = out, errOut
	}
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "notation-pkcs11: error: internal error: %s\n", oneLine(fmt.Sprint(r)))
			code = cli.ExitFailed
		}
	}()
	a := &app{ctx: ctx, getenv: getenv}
	root := newRoot(a)
	refusePINFlags(root, args)
	return cli.Execute(root, args, stdout, stderr)
}
