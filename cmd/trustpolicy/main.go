// Command trustpolicy verifies Notation signatures against a Notation trust
// policy, exactly as notation v1.3 does, and explains the verdict.
//
//	trustpolicy verify [--plain-http] REF
//	trustpolicy verify --signature FILE --media-type TYPE --descriptor FILE --reference REGISTRY/REPO@DIGEST
//	trustpolicy explain [--brief] ...  (the same inputs as verify)
//	trustpolicy lint [--strict] [--policy FILE] [--truststore DIR]
//	trustpolicy crl fetch|import|list ...
//	trustpolicy version
//	trustpolicy completion bash|zsh|fish
//
// Exit codes: 0 verified (or the policy skips the artifact), 1 verification
// failed (lint: problems found), 2 bad input or usage (a missing file
// included), 3 inconclusive. "trustpolicy CMD -h" shows each command's
// flags, examples and exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{
		stdin:    os.Stdin,
		stdout:   os.Stdout,
		stderr:   os.Stderr,
		getenv:   os.Getenv,
		now:      time.Now,
		cacheDir: os.UserCacheDir,
	})
	stop()
	os.Exit(code)
}
