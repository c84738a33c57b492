// Package containerdverifier is a containerd image verifier over this
// project's trust-policy engine: containerd 2.x runs it before it pulls an
// image (the transfer service, which kubelet pulls use since containerd
// 2.1, and `ctr image pull`), and it allows the pull only when the image's
// Notary Project signature verifies under the node's trust policy, with
// revocation checked against an on-disk cache that works offline.
//
// # Protocol
//
// containerd's bindir image verifier (pkg/imageverifier/bindir, containerd
// v2.4.2) runs every executable in its bin_dir as
//
//	VERIFIER -name REF -digest DIGEST -stdin-media-type application/vnd.oci.descriptor.v1+json
//
// with the image's OCI descriptor as JSON on stdin (written asynchronously;
// it may be ignored). Exit 0 allows the pull and anything else refuses it;
// the first 32 KiB of stdout are the reason containerd shows (ctr prints it
// in its error); stderr is logged at debug level. A verifier that does not
// exit within per_verifier_timeout (10 s by default) is killed and the pull
// fails.
//
// [ParseArgs] accepts exactly that invocation (Go flag syntax, each flag
// once, no other argument); [ReadDescriptor] reads the descriptor with a
// cap and checks that it names -digest. What is verified is
// REGISTRY/REPOSITORY@DIGEST: the repository of -name with the digest
// containerd gives, never a tag resolved again ([Invocation.Reference]).
// [Run] ties it together and returns an [Outcome]: the exit code, the
// reason for stdout (first line: the one-line summary with its fix; a
// refusal ends with the trustpolicy explain command that shows every
// check; at most 32 KiB with the newline, every value escaped with
// internal/textsafe) and debug lines for stderr.
//
// Exit codes: 0 allowed (verified, or the matching policy statement has
// level skip); 1 refused, the image did not verify; 2 refused, bad
// arguments or descriptor; 3 refused, the configuration, trust policy,
// trust store or revocation cache is not clean; 4 refused, no answer within
// the configured timeout.
//
// # Configuration
//
// containerd passes nothing but the arguments, so the configuration is a
// JSON file at [DefaultConfigPath], or where $NOTATION_PKCS11_CONTAINERD_CONFIG
// (in containerd's environment) says ([Config] documents the keys). It is
// strict: keys exactly as documented (no unknown, duplicate or
// differently cased key), one object, at most 64 KiB, absolute paths,
// plain HTTP only to loopback registries. [Load] refuses, and so every pull
// is refused with the reason, when the configuration is not clean: the
// trust policy and trust store must pass `trustpolicy lint --strict`
// (key warnings included, [LintError] lists every problem), and the files
// the verifier trusts must be trusted ([FileTrustError]). The fix printed
// is `notation-pkcs11-containerd check --config FILE`, which runs the same
// checks.
//
// # Timeouts
//
// Config.Timeout (default 8 s) bounds everything from the start of [Run]:
// reading the configuration, the registry and revocation. The verification
// runs on its own goroutine; when the time is up Run refuses at once with
// ExitTimeout (fail closed) and a reason that says so, whatever the work is
// blocked on. Revocation's OCSP plus CRL timeouts must stay below it.
//
// # Security
//
// Fail closed: every path but a verified or skip-level verdict refuses.
// The files the verifier trusts (the configuration, the trust policy, the
// trust store folders and files, the docker config holding credentials)
// must be regular files (the configuration and policy not symlinks) owned
// by root or the effective user and not writable by group or others; they
// are opened with O_NOFOLLOW and O_NONBLOCK and checked on the opened
// descriptor. The revocation cache folder is checked by package revocation
// (owned by the effective user, not group or other writable). No exported
// helper for these checks existed elsewhere (revocation, pki/pkcs11 and
// plugin each keep an unexported one), so this package has its own.
// Registry credentials come only from registry.dockerConfig; without it
// access is anonymous, and the docker configuration of the user containerd
// runs as is never read.
//
// This package is a thin adapter: the verification is
// trustpolicy/service's Verify, the flow `trustpolicy verify` shares, over
// the project's one registry client; the revocation checker is built with
// revocation.NewFromConfig.
//
// # Concurrency
//
// The package has no mutable global state and never prints. A [Verifier]
// is safe for concurrent use.
package containerdverifier
