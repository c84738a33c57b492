// Command trustpolicy verifies Notation signatures against a Notation trust
// policy, exactly as notation v1.3 does, and explains the verdict.
//
//	trustpolicy verify [--plain-http] REF
//	trustpolicy verify --signature FILE --media-type TYPE --descriptor FILE --reference REGISTRY/REPO@DIGEST
//	trustpolicy explain ...           (the same inputs as verify)
//	trustpolicy lint [--policy FILE] [--truststore DIR]
//	trustpolicy crl fetch|import|list ...
//
// Exit codes: 0 verified (or the policy skips the artifact), 1 verification
// failed, 2 bad input or usage, 3 inconclusive.
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
		stdout:   os.Stdout,
		stderr:   os.Stderr,
		getenv:   os.Getenv,
		now:      time.Now,
		cacheDir: os.UserCacheDir,
	})
	stop()
	os.Exit(code)
}
