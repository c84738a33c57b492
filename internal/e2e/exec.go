package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// toolTimeout bounds the helpers that take no context.
const toolTimeout = 2 * time.Minute

// baseEnv is the environment every child starts from: enough to run, and
// nothing that could carry a developer's own configuration or secrets.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOCOVERDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// run starts bin with args in dir (the current folder if empty) under env and
// waits. Like [Notation.Run], err is set only when the process could not be
// started or did not exit on its own (ctx ended, or a signal killed it); a
// non-zero exit is reported through code alone.
func run(ctx context.Context, env []string, dir, bin string, args ...string) (stdout, stderr string, code int, err error) {
	var outBuf, errBuf bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout = &outBuf
	cmd.Stderr = &errBuf
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	stdout, stderr = outBuf.String(), errBuf.String()
	if ctxErr := ctx.Err(); ctxErr != nil && err != nil {
		return stdout, stderr, -1, fmt.Errorf("e2e: %s %s: %w (%v)", bin, firstArg(args), ctxErr, err)
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if c := exitErr.ExitCode(); c >= 0 {
			return stdout, stderr, c, nil
		}
		return stdout, stderr, -1, fmt.Errorf("e2e: %s %s: %w", bin, firstArg(args), err)
	}
	if err != nil {
		return stdout, stderr, -1, fmt.Errorf("e2e: running %s: %w", bin, err)
	}
	return stdout, stderr, 0, nil
}

// runOK is run for helpers that need success: a non-zero exit becomes an
// error quoting the tool's output.
func runOK(ctx context.Context, env []string, dir, bin string, args ...string) (string, error) {
	stdout, stderr, code, err := run(ctx, env, dir, bin, args...)
	if err != nil {
		return stdout, err
	}
	if code != 0 {
		return stdout, fmt.Errorf("e2e: %s %s exited %d: %s", bin, firstArg(args), code,
			strings.TrimSpace(stderr+"\n"+stdout))
	}
	return stdout, nil
}

// firstArg names the subcommand in errors without echoing secrets such as
// PINs that later arguments may hold.
func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
