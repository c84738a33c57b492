// Command notation-pkcs11 is a Notation signing plugin for keys held in a
// PKCS#11 hardware security module.
//
// Installed as $NOTATION_LIBEXEC/plugins/pkcs11/notation-pkcs11 (use
// `notation plugin install --file notation-pkcs11`), notation runs it with
// one protocol command and a JSON request on stdin. Run by a person, it
// prints its version or help, or runs a workflow command: token list, key
// list, key generate, csr, cert import, cert lint and doctor (see usage and
// docs/pki-workflow.md). The PIN is never taken on the command line.
//
// Exit codes: 0 success; 1 the request failed (the JSON error is on
// stderr); 2 usage error; cert lint 1 when a rule is broken; doctor 3-12
// naming the first broken link.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/notation-pkcs11/notation-pkcs11/plugin"
)

const version = "0.1.0"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if plugin.IsCommand(args[0]) {
		return protocol(ctx, args, stdin, stdout, stderr)
	}
	if name, rest, ok := isAdmin(args); ok {
		return runAdmin(ctx, name, rest, stdout, stderr)
	}
	switch args[0] {
	case "version", "--version":
		fmt.Fprintf(stdout, "notation-pkcs11 %s (Notation plugin %q, contract 1.0)\n", version, plugin.Name)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "notation-pkcs11: error: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

// protocol answers one plugin protocol command with fds 1 and 2 silenced
// for the module's sake; the real outputs are duplicates.
func protocol(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	if len(args) != 1 {
		fmt.Fprintf(stderr, `{"errorCode":"VALIDATION_ERROR","errorMessage":"%s takes no arguments; the request comes on stdin"}`, args[0])
		return 1
	}
	if f, ok := stdout.(*os.File); ok && f == os.Stdout {
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
	opts := plugin.Options{Version: version}
	if state := plugin.DefaultStateDir(os.Getenv); state != "" {
		opts.Cache = &plugin.KeyCache{Dir: filepath.Join(state, "keys")}
		opts.LockDir = filepath.Join(state, "locks")
	}
	p := plugin.New(opts)
	return p.Run(ctx, args[0], stdin, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `notation-pkcs11: a Notation signing plugin for keys in a PKCS#11 HSM

Install:   notation plugin install --file ./notation-pkcs11
Sign:      NOTATION_PKCS11_PIN=... notation sign --plugin pkcs11 \
             --id 'pkcs11:token=TOKEN;object=KEY?module-path=/path/to/module.so' REF

Key URI (RFC 7512): token=, serial= or slot-id= select the token; object= and/or
  id= select the key; module-path= names the module; pin-source=file:/abs/path
  names a PIN file (mode 0600). pin-value is refused.
pluginConfig: module_path, certificate_chain (PEM bundle), timeout (e.g. 30s),
  key_cache (on|off), hsm_lock (on|off: serialise processes using the module),
  audit_log (absolute path: one JSON line per signature).
Environment: NOTATION_PKCS11_PIN, NOTATION_PKCS11_MODULE, NOTATION_PKCS11_CACHE.

Workflow (add --output json to any; --plugin-config KEY=VALUE as for notation):
  token list                                  slots and tokens of the module
  key list --token URI                        keys on a token, with their certificates
  key generate --token URI --type TYPE --label NAME [--id HEX]
                                              TYPE: rsa-2048|rsa-3072|rsa-4096|ec-256|ec-384|ec-521
  csr --key URI --subject "C=US,ST=WA,O=Acme,CN=Release Signing" [--out FILE]
  cert import --key URI FILE...               leaf and issuers onto the token, checked first
  cert lint FILE...                           every Notary Project rule the chain breaks
  doctor --key URI [--name N] [--trust-store S] [--scope S]
The PIN comes from the URI's pin-source or NOTATION_PKCS11_PIN, never argv.

Commands: version, help; protocol commands are for notation.
Exit codes: 0 ok, 1 request failed (JSON error on stderr), 2 usage error;
  cert lint: 1 a rule is broken; doctor: 3 config, 4 module, 5 token, 6 pin,
  7 key, 8 certificate, 9 certificate-match, 10 chain, 11 expiry, 12 revocation.
`)
}
