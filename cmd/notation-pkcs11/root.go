package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
	"github.com/notation-pkcs11/notation-pkcs11/plugin"
)

// app is what every human command shares: no package globals.
type app struct {
	ctx    context.Context
	getenv func(string) string
}

// plugin returns the plugin the admin operations run on: the real HSM
// backend, the module lock shared with signing processes.
func (a *app) plugin() *plugin.Plugin {
	opts := plugin.Options{Version: version, Getenv: a.getenv}
	if state := plugin.DefaultStateDir(a.getenv); state != "" {
		opts.LockDir = filepath.Join(state, "locks")
	}
	return plugin.New(opts)
}

// Schemas of the JSON documents (--output json); errors are
// cli.ErrorSchema.
const (
	schemaVersion     = "notation-pkcs11/version/v1"
	schemaTokenList   = "notation-pkcs11/token-list/v1"
	schemaKeyList     = "notation-pkcs11/key-list/v1"
	schemaKeyGenerate = "notation-pkcs11/key-generate/v1"
	schemaCSR         = "notation-pkcs11/csr/v1"
	schemaCertImport  = "notation-pkcs11/cert-import/v1"
	schemaCertLint    = "notation-pkcs11/cert-lint/v1"
	schemaDoctor      = "notation-pkcs11/doctor/v1"
)

const rootLong = `notation-pkcs11 is a Notation signing plugin for keys in a PKCS#11 HSM, and
the tool to set up the key it signs with.

Install:  notation plugin install --file ./notation-pkcs11
Sign:     notation sign --plugin pkcs11 \
            --id 'pkcs11:token=TOKEN;object=KEY?module-path=/path/to/module.so' REF

Key URI (RFC 7512): token=, serial= or slot-id= select the token; object= and/or
id= select the key; module-path= names the module; pin-source=file:/abs/path
names a PIN file (mode 0600, owned by you). pin-value is refused.
pluginConfig (--plugin-config KEY=VALUE, as for notation): module_path,
certificate_chain (certificate file), timeout (e.g. 30s), key_cache (on|off),
hsm_lock (on|off), audit_log (absolute path: one JSON line per signature).
Environment: NOTATION_PKCS11_PIN, NOTATION_PKCS11_MODULE, NOTATION_PKCS11_CACHE.
The PIN comes from the URI's pin-source or NOTATION_PKCS11_PIN, never argv: any
flag named --pin... or --so-pin... is refused.

notation runs the protocol commands (get-plugin-metadata, describe-key,
generate-signature) with a JSON request on stdin: JSON answer on stdout and
exit 0, or a JSON error on stderr and exit 1.

Every command takes -h and --output json (one JSON document on stdout, errors
included, each with a "schema").

Exit codes:
  0  success
  1  the operation failed; cert lint: a rule is broken
  2  usage error: a bad flag or argument, a missing or unreadable input file
  3-12  doctor: the first broken link (see notation-pkcs11 doctor -h)`

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:     "notation-pkcs11",
		Short:   "Notation signing plugin and key setup for PKCS#11 HSMs",
		Long:    rootLong,
		Version: version,
		Example: `  notation-pkcs11 token list
  notation-pkcs11 key generate --token pkcs11:token=release --type ec-256 --label release-2026
  notation-pkcs11 doctor --key 'pkcs11:token=release;object=release-2026'`,
	}
	root.SetVersionTemplate("notation-pkcs11 {{.Version}} (Notation plugin \"" + plugin.Name + "\", contract 1.0)\n")
	root.CompletionOptions.HiddenDefaultCmd = false
	token := &cobra.Command{Use: "token", Short: "PKCS#11 tokens of the module"}
	token.AddCommand(a.tokenListCmd())
	key := &cobra.Command{Use: "key", Short: "keys on a token"}
	key.AddCommand(a.keyListCmd(), a.keyGenerateCmd())
	cert := &cobra.Command{Use: "cert", Short: "signing certificates"}
	cert.AddCommand(a.certImportCmd(), a.certLintCmd())
	root.AddCommand(token, key, cert, a.csrCmd(), a.doctorCmd(), versionCmd())
	return root
}

func versionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "print the version",
		Long:    "Print the plugin's version, name and Notation plugin contract.\n\nExit codes: 0 printed; 2 usage error.",
		Example: "  notation-pkcs11 version\n  notation-pkcs11 version --output json",
		Args:    cobra.NoArgs,
	}
	out := cli.OutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if out.JSON() {
			return cli.WriteJSON(cmd.OutOrStdout(), map[string]string{
				"schema": schemaVersion, "version": version, "plugin": plugin.Name, "contract": "1.0",
			})
		}
		_, err := fmt.Fprintf(cmd.OutOrStdout(), "notation-pkcs11 %s (Notation plugin %q, contract 1.0)\n", version, plugin.Name)
		return err
	}
	return cmd
}

// errPINOnCommandLine refuses a PIN flag. It never repeats the flag: its
// value may be glued to it (--pin=1234).
var errPINOnCommandLine = errors.New("the PIN is never taken on the command line (other users can read it): put pin-source=file:/absolute/path (mode 0600) in the URI or set " + pkcs11.PINEnv)

// isPINFlag reports whether a command-line word is a flag whose name
// starts with pin or so-pin (--pin, --pin=1234, -pin, --so-pin, --PIN).
func isPINFlag(arg string) bool {
	if len(arg) < 2 || arg[0] != '-' {
		return false
	}
	name, _, _ := strings.Cut(strings.ToLower(strings.TrimLeft(arg, "-")), "=")
	return strings.HasPrefix(name, "pin") || strings.HasPrefix(name, "so-pin") || strings.HasPrefix(name, "sopin")
}

// refusePINFlags makes the command that args name refuse to run when they
// hold a PIN flag, before cobra parses (and could echo) anything: its flag
// parsing is turned off and it fails with a usage error.
func refusePINFlags(root *cobra.Command, args []string) {
	found := false
	for _, a := range args {
		if a == "--" {
			break
		}
		if isPINFlag(a) {
			found = true
			break
		}
	}
	if !found {
		return
	}
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		cmd = root
	}
	cmd.DisableFlagParsing = true
	cmd.Args = cobra.ArbitraryArgs
	cmd.PreRunE, cmd.PersistentPreRunE = nil, nil
	cmd.RunE = func(*cobra.Command, []string) error { return &cli.UsageError{Err: errPINOnCommandLine} }
}

// configFlag collects repeated --plugin-config KEY=VALUE. Set never fails
// (pflag would quote the value in its error): entries are checked by map.
type configFlag []string

func (c *configFlag) String() string { return strings.Join(*c, ",") }
func (c *configFlag) Type() string   { return "KEY=VALUE" }
func (c *configFlag) Set(s string) error {
	*c = append(*c, s)
	return nil
}

// map returns the entries as pluginConfig; errors name the key, never the
// value.
func (c *configFlag) m() (map[string]string, error) {
	out := make(map[string]string, len(*c))
	for i, e := range *c {
		k, v, ok := strings.Cut(e, "=")
		if !ok || k == "" {
			return nil, cli.Usagef("--plugin-config entry %d is not KEY=VALUE (e.g. module_path=/usr/lib/softhsm/libsofthsm2.so)", i+1)
		}
		if _, dup := out[k]; dup {
			return nil, cli.Usagef("--plugin-config %s given twice", textsafe.Escape(k))
		}
		out[k] = v
	}
	return out, nil
}

func addConfigFlag(cmd *cobra.Command) *configFlag {
	c := &configFlag{}
	cmd.Flags().Var(c, "plugin-config", "pluginConfig entry, repeatable: module_path, timeout, hsm_lock, certificate_chain")
	return c
}

// required refuses an empty required flag.
func required(name, v string) error {
	if v == "" {
		return cli.Usagef("--%s is required", name)
	}
	return nil
}

// oneLine escapes s for a one-line message.
func oneLine(s string) string { return textsafe.Escape(s) }

// quote is strconv.Quote made terminal-safe: Go escapes for control and
// invisible characters, and U+FFFD escaped too.
func quote(s string) string { return textsafe.Escape(strconv.Quote(s)) }

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
