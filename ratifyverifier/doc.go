// Package ratifyverifier implements a Ratify v1 external verifier plugin
// that verifies Notary Project signatures with this project's trust-policy
// engine (package trustpolicy) and revocation checker (package revocation).
//
// # Protocol
//
// Ratify v1 runs an external verifier as a child process per signature,
// without arguments: RATIFY_VERIFIER_COMMAND=VERIFY, RATIFY_VERIFIER_SUBJECT
// (the artifact, REGISTRY/REPO@DIGEST or a tag reference) and
// RATIFY_VERIFIER_VERSION in the environment, and on stdin one JSON object
// holding the verifier's own entry of Ratify's config.json ("config"), the
// referrer store's entry ("storeConfig") and the descriptor of the signature
// manifest to verify ("referenceDesc"). Only JSON whitespace may follow the
// object; anything else is refused, quoted, with [ErrTrailingData]. The
// plugin prints one line of JSON, a verifier result (isSuccess, message,
// name, type, extensions), and exits 0, also when the signature does not
// verify. A request it cannot serve (missing environment, malformed stdin,
// bad configuration) is a [ProtocolError] printed as {"code":N,"msg":"..."}
// with exit 1; Ratify then fails the verification and shows the message.
//
// [ParseRequest] decodes the environment and stdin, [ParseConfig] the
// verifier entry, [Verify] is the verification of a parsed request, and
// [Run] ties them together for the command (cmd/notation-pkcs11-ratify);
// its error is always a *ProtocolError.
//
// This package is a thin adapter: the verification is
// trustpolicy/service's VerifySignature, the flow `trustpolicy verify`
// shares (choose the trust policy statement by the subject's repository,
// honour level skip before any fetch, resolve the subject, fetch the one
// signature, evaluate), over the project's one registry client
// (trustpolicy/registry; [StoreConfig.RegistryOptions] maps the store
// entry onto it).
//
// # Security
//
// Fail closed: anything that is not a positive verdict of the engine is
// isSuccess=false. Nothing is trusted that the trust policy and the
// configured trust stores do not name: a policy store missing from the
// configuration fails authenticity, and there are no system roots and no
// fallback certificates (unlike Ratify's built-in notation verifier, which
// uses every configured certificate when a store name does not match).
// Every fetch is size-capped (request on stdin, signature manifest,
// envelope) and checked against its digest, and the whole verification,
// registry and revocation included, runs under Config.Timeout. The store's
// useHttp switches every registry request to plain HTTP; without it
// plain-HTTP requests (including redirects) are refused. Registry credentials come from the docker
// configuration, as with Ratify's dockerConfig auth provider, and never
// appear in output. The artifact verified is the one the subject names: a
// digest reference the registry resolves to another digest, or a signature
// manifest whose subject is another digest, fails with both digests named,
// and once the subject is resolved the result names REGISTRY/REPO@DIGEST
// (Extensions.Reference), also for a tag. Text from outside (registry
// answers, environment, configuration, certificate names) is escaped with
// internal/textsafe, not dropped: messages stay one line, and the JSON line
// holds no control or bidirectional character raw.
//
// # Concurrency
//
// The package has no mutable global state and never prints. A parsed
// [Request] and [Config] are plain values; [Verify] may run concurrently
// with the same service.
package ratifyverifier
