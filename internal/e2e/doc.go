// Package e2e is a small harness for end-to-end tests and demos that drive
// the real peer tools: the notation CLI, oras, the CNCF distribution registry
// and SoftHSM2. It is a library: it never prints, and it reports every problem
// as an error. Only the helpers whose names end in T (ToolsT, StartRegistryT,
// NewSoftHSMT, NewNotationT, PushT) take a testing.TB; they fail or skip the
// test themselves and register t.Cleanup to stop what they start.
//
// What lives here:
//
//   - [FindTools] locates the notation, oras and registry binaries that
//     scripts/tools.sh (or make tools) builds into the user's cache.
//   - [StartRegistry] runs a throw-away OCI registry on a free loopback port.
//   - [NewSoftHSM] gives a SoftHSM2 configuration and token directory of its
//     own, so tests never touch the machine's global tokens.
//   - [NewNotation] runs notation with NOTATION_CONFIG, NOTATION_CACHE and
//     NOTATION_LIBEXEC pointing into a folder of its own; [StrictPolicy]
//     builds a notation v1.3.2 trust policy document.
//   - [Push] uploads an artifact with oras and returns its digest.
//
// # Security
//
// Every server this package starts binds 127.0.0.1 only, and lives until
// [Registry.Stop] (or the t.Cleanup that the T helpers register) kills its
// process group; callers that do not use the T helpers must call Stop.
// Child processes get a minimal environment (PATH, HOME, TMPDIR, GOCOVERDIR)
// plus the variables the harness sets and those the caller passes, so a
// developer's own notation configuration, SoftHSM tokens or PINs never leak
// into a test.
//
// [SoftHSM.InitToken] and [SoftHSM.ImportKey] pass PINs to softhsm2-util on
// its command line, where other local users can read them. That is tolerated
// here only because the tokens are throw-away test tokens in a temporary
// folder; never use this package with a token that protects a real key.
//
// # Concurrency
//
// Values of this package may be used from one goroutine at a time, except
// that [Registry.Stop] may be called concurrently and more than once.
// Distinct values (for example two registries) are independent.
package e2e
