package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/notation-pkcs11/notation-pkcs11/plugin"
)

// The human subcommands: thin wrappers over plugin's admin operations and
// pki, with text or JSON output. Exit codes: 0 ok, 1 the operation failed,
// 2 usage error; doctor and cert lint have their own (see usage).

// exitFailed and exitUsage are the common exit codes.
const (
	exitFailed = 1
	exitUsage  = 2
)

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// cli is one run of a subcommand.
type cli struct {
	stdout, stderr io.Writer
	json           bool
	config         configFlag
	p              *plugin.Plugin
}

// configFlag collects repeated --plugin-config KEY=VALUE.
type configFlag map[string]string

func (c configFlag) String() string { return "" }
func (c configFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("--plugin-config %q: want KEY=VALUE", k)
	}
	if _, dup := c[k]; dup {
		return fmt.Errorf("--plugin-config %s given twice", k)
	}
	c[k] = v
	return nil
}

func newPlugin() *plugin.Plugin {
	opts := plugin.Options{Version: version}
	if state := plugin.DefaultStateDir(os.Getenv); state != "" {
		opts.LockDir = filepath.Join(state, "locks")
	}
	return plugin.New(opts)
}

// adminCommands maps "token list" style names to their handlers.
var adminCommands = map[string]func(*cli, context.Context, []string) error{
	"token list":   (*cli).tokenList,
	"key list":     (*cli).keyList,
	"key generate": (*cli).keyGenerate,
	"csr":          (*cli).csr,
	"cert import":  (*cli).certImport,
	"cert lint":    (*cli).certLint,
	"doctor":       (*cli).doctor,
}

// isAdmin reports whether args start with a human subcommand, and which.
func isAdmin(args []string) (name string, rest []string, ok bool) {
	if len(args) >= 2 {
		if _, ok := adminCommands[args[0]+" "+args[1]]; ok {
			return args[0] + " " + args[1], args[2:], true
		}
	}
	if _, ok := adminCommands[args[0]]; ok {
		return args[0], args[1:], true
	}
	switch args[0] {
	case "token", "key", "cert":
		return args[0], args[1:], true // a group without (a known) verb: usage error below
	}
	return "", nil, false
}

// runAdmin runs one human subcommand and returns its exit code.
func runAdmin(ctx context.Context, name string, args []string, stdout, stderr io.Writer) int {
	for _, a := range args {
		if f := strings.TrimLeft(a, "-"); a != f && (strings.HasPrefix(f, "pin") || strings.HasPrefix(f, "so-pin")) {
			fmt.Fprintf(stderr, "notation-pkcs11 %s: error: the PIN is never taken on the command line (other users can read it); put pin-source=file:/absolute/path (mode 0600) in the URI or set NOTATION_PKCS11_PIN\n", name)
			return exitUsage
		}
	}
	fn, ok := adminCommands[name]
	if !ok {
		fmt.Fprintf(stderr, "notation-pkcs11: error: %q needs a subcommand: %s\n", name, verbsOf(name))
		return exitUsage
	}
	c := &cli{stdout: stdout, stderr: stderr, config: configFlag{}, p: newPlugin()}
	err := fn(c, ctx, args)
	var ue *usageError
	var ce *codeError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "notation-pkcs11 %s: error: %s\n", name, ue.msg)
		return exitUsage
	case errors.As(err, &ce):
		return ce.code // already reported
	}
	if c.json {
		_ = json.NewEncoder(stdout).Encode(map[string]string{"error": err.Error()})
	}
	fmt.Fprintf(stderr, "notation-pkcs11 %s: error: %v\n", name, err)
	return exitFailed
}

// codeError carries an exit code for a result already printed.
type codeError struct{ code int }

func (e *codeError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func verbsOf(group string) string {
	var out []string
	for k := range adminCommands {
		if g, v, ok := strings.Cut(k, " "); ok && g == group {
			out = append(out, group+" "+v)
		}
	}
	if len(out) == 0 {
		return "see notation-pkcs11 help"
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// flags returns a FlagSet with --output and --plugin-config.
func (c *cli) flags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("output", "text", "text or json")
	fs.Var(c.config, "plugin-config", "KEY=VALUE (module_path, timeout, hsm_lock, certificate_chain)")
	return fs, out
}

// parse parses args and checks --output; positional says how many
// positional arguments are allowed (-1: any, at least one).
func (c *cli) parse(fs *flag.FlagSet, out *string, args []string, positional int) error {
	if err := fs.Parse(args); err != nil {
		return &usageError{err.Error()}
	}
	switch *out {
	case "text":
	case "json":
		c.json = true
	default:
		return &usageError{fmt.Sprintf("--output %q: want text or json", *out)}
	}
	switch {
	case positional == 0 && fs.NArg() > 0:
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	case positional < 0 && fs.NArg() == 0:
		return &usageError{"name at least one PEM file"}
	}
	return nil
}

func required(name, v string) error {
	if v == "" {
		return &usageError{"--" + name + " is required"}
	}
	return nil
}

func (c *cli) emitJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func hexID(b []byte) string { return hex.EncodeToString(b) }

func marshalIndent(v any) ([]byte, error) { return json.MarshalIndent(v, "  ", "  ") }
