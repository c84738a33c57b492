package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli/clitest"
)

var errBroken = errors.New("broken thing")

func testRoot() *cobra.Command {
	root := &cobra.Command{Use: "prog", Short: "a test program"}
	var out *Output
	run := &cobra.Command{
		Use:     "run FILE",
		Short:   "run one file",
		Example: "  prog run x.json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch args[0] {
			case "usage":
				return Usagef("%s: no such file", args[0])
			case "fix":
				return &FixError{Err: fmt.Errorf("wrap: %w", errBroken), FixMsg: "chmod 600 /x"}
			case "evil":
				return fmt.Errorf("subject CN=x\x1b[2K\rVERIFIED")
			case "exit":
				return &ExitError{Code: 3}
			}
			if out.JSON() {
				return WriteJSON(cmd.OutOrStdout(), map[string]string{"schema": "x/v1"})
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
	out = OutputFlag(run)
	group := &cobra.Command{Use: "grp", Short: "a group"}
	group.AddCommand(&cobra.Command{Use: "leaf", Short: "a leaf", RunE: func(*cobra.Command, []string) error { return nil }})
	root.AddCommand(run, group)
	return root
}

func TestExecuteContract(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want clitest.Want
		has  string
	}{
		{[]string{"run", "a"}, clitest.Want{Code: 0}, "ok"},
		{[]string{"run", "a", "-o", "json"}, clitest.Want{Code: 0, JSON: true}, `"x/v1"`},
		{[]string{"run", "-h"}, clitest.Want{Code: 0}, "prog run x.json"},
		{[]string{"run", "--nope", "a"}, clitest.Want{Code: 2, ErrorLine: true}, "run 'prog run -h' for usage"},
		{[]string{"run", "--nope", "a", "--output", "json"}, clitest.Want{Code: 2, ErrorLine: true, JSON: true}, `"kind": "usage"`},
		{[]string{"run"}, clitest.Want{Code: 2, ErrorLine: true}, "accepts 1 arg"},
		{[]string{"nope"}, clitest.Want{Code: 2, ErrorLine: true}, "unknown command"},
		{[]string{"grp"}, clitest.Want{Code: 2, ErrorLine: true}, "needs a subcommand: leaf"},
		{[]string{"grp", "bogus"}, clitest.Want{Code: 2, ErrorLine: true}, `unknown command "bogus"`},
		{[]string{"run", "usage", "-o", "json"}, clitest.Want{Code: 2, ErrorLine: true, JSON: true}, "no such file"},
		{[]string{"run", "fix"}, clitest.Want{Code: 1, ErrorLine: true}, "prog run: fix: chmod 600 /x"},
		{[]string{"run", "evil"}, clitest.Want{Code: 1, ErrorLine: true}, `\x1b[2K\rVERIFIED`},
		{[]string{"run", "exit"}, clitest.Want{Code: 3}, ""},
		{[]string{"completion", "bash"}, clitest.Want{Code: 0}, "bash completion"},
	} {
		var stdout, stderr bytes.Buffer
		code := Execute(testRoot(), tc.args, &stdout, &stderr)
		r := clitest.Run{Args: tc.args, Stdout: stdout.String(), Stderr: stderr.String(), Code: code}
		if err := clitest.Check(r, tc.want); err != nil {
			t.Error(err)
		}
		if !strings.Contains(r.Stdout+r.Stderr, tc.has) {
			t.Errorf("%q: output lacks %q:\n%s%s", tc.args, tc.has, r.Stdout, r.Stderr)
		}
	}
}

func TestWantsJSON(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"x", "--output", "json"}, true},
		{[]string{"x", "--output=json"}, true},
		{[]string{"x", "-o", "json"}, true},
		{[]string{"x", "--output", "text"}, false},
		{[]string{"x", "--", "--output", "json"}, false},
	} {
		if got := WantsJSON(&cobra.Command{}, tc.args); got != tc.want {
			t.Errorf("WantsJSON(%q) = %v", tc.args, got)
		}
	}
}

func TestCheckCatchesBreaches(t *testing.T) {
	for _, tc := range []struct {
		run  clitest.Run
		want clitest.Want
	}{
		{clitest.Run{Stdout: "x\x1b[31m"}, clitest.Want{}},
		{clitest.Run{Stdout: `{"a":1}`}, clitest.Want{JSON: true}},
		{clitest.Run{Stdout: `{"schema":"s"}{"schema":"s"}`}, clitest.Want{JSON: true}},
		{clitest.Run{Stderr: "p: error: a\np: error: b\n", Code: 1}, clitest.Want{Code: 1, ErrorLine: true}},
		{clitest.Run{Stderr: "usage:\n  lots of text\n", Code: 2}, clitest.Want{Code: 2, ErrorLine: true}},
		{clitest.Run{Stderr: "p: error: pin 123456\n", Code: 1}, clitest.Want{Code: 1, ErrorLine: true, Secrets: []string{"123456"}}},
		{clitest.Run{Code: 1}, clitest.Want{Code: 0}},
	} {
		if clitest.Check(tc.run, tc.want) == nil {
			t.Errorf("Check accepted %+v against %+v", tc.run, tc.want)
		}
	}
}

// TestWriteJSONEscapesUnsafe: encoding/json leaves bidirectional controls
// and U+FFFD raw; WriteJSON escapes them and the document still decodes to
// the same value.
func TestWriteJSONEscapesUnsafe(t *testing.T) {
	in := map[string]string{"schema": "x/v1", "subject": "CN=a\u202eb\x1b[2K\u00ad\U000e0001\ufffdz"}
	var b bytes.Buffer
	if err := WriteJSON(&b, in); err != nil {
		t.Fatal(err)
	}
	if err := clitest.Check(clitest.Run{Stdout: b.String()}, clitest.Want{JSON: true}); err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	if err := json.Unmarshal(b.Bytes(), &out); err != nil || out["subject"] != in["subject"] {
		t.Fatalf("decoded %q, %v; want %q", out["subject"], err, in["subject"])
	}
}
