package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
)

// Exit codes shared by every command.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

// ErrorSchema is the schema of [ErrorDocument].
const ErrorSchema = "notation-pkcs11/error/v1"

// ErrorDocument is what a command prints on stdout under --output json when
// it fails before it has a result of its own.
type ErrorDocument struct {
	Schema string    `json:"schema"`
	Error  ErrorBody `json:"error"`
}

// ErrorBody describes the failure.
type ErrorBody struct {
	// Command is the command path, e.g. "trustpolicy verify".
	Command string `json:"command"`
	// Kind is "usage" (exit 2) or "failed".
	Kind     string `json:"kind"`
	Message  string `json:"message"`
	Fix      string `json:"fix,omitempty"`
	ExitCode int    `json:"exitCode"`
}

// UsageError is a mistake on the command line or in an input file that
// the user must correct: exit code 2.
type UsageError struct {
	Err error
	// Hint, when set, replaces the default "run 'CMD -h' for usage".
	Hint string
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a [UsageError] with a formatted message.
func Usagef(format string, a ...any) error {
	return &UsageError{Err: fmt.Errorf(format, a...)}
}

// ExitError ends a command with Code after it has printed its own result
// (a verdict, a lint report): Execute prints nothing more.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Fixer is an error that knows the command or edit that fixes it.
type Fixer interface{ Fix() string }

// FixError is an error with its fix.
type FixError struct {
	Err    error
	FixMsg string
}

func (e *FixError) Error() string { return e.Err.Error() }
func (e *FixError) Unwrap() error { return e.Err }
func (e *FixError) Fix() string   { return e.FixMsg }

// Execute runs root with args and returns the process exit code. It sets
// the contract up on every command of the tree first.
func Execute(root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	Prepare(root)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetIn(strings.NewReader(""))
	cmd, err := root.ExecuteC()
	if err == nil {
		return ExitOK
	}
	if cmd == nil {
		cmd = root
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		return exit.Code
	}
	code := ExitFailed
	kind := "failed"
	var usage *UsageError
	var coder interface{ ExitCode() int }
	switch {
	case errors.As(err, &usage) || isCobraUsage(err):
		code, kind = ExitUsage, "usage"
	case errors.As(err, &coder):
		code = coder.ExitCode()
	}
	msg := textsafe.Escape(strings.TrimSpace(err.Error()))
	fix := ""
	var fixer Fixer
	if errors.As(err, &fixer) {
		fix = textsafe.Escape(fixer.Fix())
	}
	prog := cmd.CommandPath()
	if kind == "usage" {
		hint := fmt.Sprintf("run '%s -h' for usage", prog)
		if usage != nil && usage.Hint != "" {
			hint = usage.Hint
		}
		fmt.Fprintf(stderr, "%s: %s (%s)\n", prog, msg, hint)
	} else {
		fmt.Fprintf(stderr, "%s: error: %s\n", prog, msg)
	}
	if fix != "" {
		fmt.Fprintf(stderr, "%s: fix: %s\n", prog, fix)
	}
	if WantsJSON(cmd, args) {
		_ = WriteJSON(stdout, ErrorDocument{Schema: ErrorSchema, Error: ErrorBody{
			Command: prog, Kind: kind, Message: msg, Fix: fix, ExitCode: code,
		}})
	}
	return code
}

// Prepare applies the contract to every command under root: errors and
// usage are printed by Execute, not by cobra, and argument and flag
// mistakes become [UsageError]s.
func Prepare(root *cobra.Command) {
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &UsageError{Err: err}
	})
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.SilenceErrors, c.SilenceUsage = true, true
		if c.Args != nil {
			args := c.Args
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return &UsageError{Err: err}
				}
				return nil
			}
		}
		if c.HasSubCommands() && c.RunE == nil && c.Run == nil {
			// A group: "trustpolicy crl" alone, or with an unknown verb.
			c.Args = func(cmd *cobra.Command, a []string) error {
				if len(a) > 0 {
					return &UsageError{Err: fmt.Errorf("unknown command %q for %q", a[0], cmd.CommandPath())}
				}
				return nil
			}
			c.RunE = func(cmd *cobra.Command, _ []string) error {
				return &UsageError{Err: fmt.Errorf("%q needs a subcommand: %s", cmd.CommandPath(), subcommands(cmd))}
			}
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
}

func subcommands(c *cobra.Command) string {
	var names []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	return strings.Join(names, ", ")
}

// isCobraUsage recognises the errors cobra returns itself for an unknown
// command or bad arguments before any RunE runs.
func isCobraUsage(err error) bool {
	m := err.Error()
	return strings.HasPrefix(m, "unknown command ") || strings.HasPrefix(m, "unknown flag") ||
		strings.HasPrefix(m, "unknown shorthand flag") || strings.Contains(m, "flag needs an argument") ||
		strings.HasPrefix(m, "invalid argument ") || strings.HasPrefix(m, "required flag(s)") ||
		strings.HasPrefix(m, "accepts ") || strings.HasPrefix(m, "requires at least ")
}

// WantsJSON reports whether the command was asked for JSON output: its
// --output flag says json, or, when flag parsing failed, the raw arguments
// do.
func WantsJSON(cmd *cobra.Command, args []string) bool {
	if f := cmd.Flags().Lookup("output"); f != nil && f.Changed {
		return f.Value.String() == "json"
	}
	for i, a := range args {
		switch {
		case a == "--":
			return false
		case a == "--output=json", a == "-o=json", a == "-ojson":
			return true
		case (a == "--output" || a == "-o") && i+1 < len(args) && args[i+1] == "json":
			return true
		}
	}
	return false
}

// OutputFlag adds --output text|json to cmd and returns where it lands.
func OutputFlag(cmd *cobra.Command) *Output {
	o := Output("text")
	cmd.Flags().VarP(&o, "output", "o", "output format: text or json")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return &o
}

// Output is the value of --output.
type Output string

func (o *Output) String() string { return string(*o) }
func (o *Output) Type() string   { return "text|json" }
func (o *Output) Set(s string) error {
	switch s {
	case "text", "json":
		*o = Output(s)
		return nil
	}
	return fmt.Errorf("must be text or json, not %q", s)
}

// JSON reports whether the output is JSON.
func (o *Output) JSON() bool { return o != nil && *o == "json" }

// WriteJSON writes v as one indented JSON document. Every rune that
// textsafe.Unsafe names (encoding/json leaves bidirectional and other
// format controls as they are) is written as a \uXXXX escape, so the
// document decodes to the same values and never reaches a terminal raw.
func WriteJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(textsafe.EscapeJSON(b.Bytes()))
	return err
}
