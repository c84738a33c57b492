// Package clitest checks one run of a command against the contract of
// package internal/cli, for the CLI contract tests of each binary.
package clitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
)

// Run is one finished run of a command.
type Run struct {
	Args           []string
	Stdout, Stderr string
	Code           int
}

// Want is what the contract requires of a run.
type Want struct {
	Code int
	// JSON: stdout must be exactly one JSON document with a non-empty
	// "schema" (or, with JSONLines, one such document per line).
	JSON, JSONLines bool
	// ErrorLine: stderr must hold exactly one line with "error:" or, for
	// usage errors, a "run '... -h'" hint, optionally followed by one
	// "fix:" line, and nothing else.
	ErrorLine bool
	// Secrets must appear nowhere in the output.
	Secrets []string
}

// Check returns every way r breaks w, or nil.
func Check(r Run, w Want) error {
	var probs []string
	add := func(format string, a ...any) { probs = append(probs, fmt.Sprintf(format, a...)) }
	if r.Code != w.Code {
		add("exit code %d, want %d", r.Code, w.Code)
	}
	for name, s := range map[string]string{"stdout": r.Stdout, "stderr": r.Stderr} {
		for _, ru := range s {
			if textsafe.Unsafe(ru) && ru != '\n' && ru != '\t' {
				add("%s holds control character %U", name, ru)
				break
			}
		}
		for _, sec := range w.Secrets {
			if sec != "" && strings.Contains(s, sec) {
				add("%s holds a secret", name)
			}
		}
	}
	if w.JSON || w.JSONLines {
		docs := []string{r.Stdout}
		if w.JSONLines {
			docs = strings.Split(strings.TrimRight(r.Stdout, "\n"), "\n")
		}
		for _, d := range docs {
			if err := oneDocument(d); err != nil {
				add("stdout: %v", err)
			}
		}
	}
	if w.ErrorLine {
		lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
		errs, fixes := 0, 0
		for _, l := range lines {
			switch {
			case strings.Contains(l, ": error: ") || strings.Contains(l, " -h' for usage)"):
				errs++
			case strings.Contains(l, ": fix: "):
				fixes++
			default:
				add("stderr line %q is neither the error nor its fix", l)
			}
		}
		if errs != 1 || fixes > 1 {
			add("stderr has %d error lines and %d fix lines, want 1 and at most 1: %q", errs, fixes, r.Stderr)
		}
	}
	if len(probs) == 0 {
		return nil
	}
	return fmt.Errorf("%q: %s\nstdout: %s\nstderr: %s", r.Args, strings.Join(probs, "; "), r.Stdout, r.Stderr)
}

func oneDocument(s string) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("not a JSON object: %v: %q", err, s)
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON document: %q", s)
	}
	if sc, _ := doc["schema"].(string); sc == "" {
		return fmt.Errorf("JSON document without schema: %q", s)
	}
	return nil
}
