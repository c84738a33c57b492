// Package registry fetches what a Notation signature verifier needs from an
// OCI registry: it resolves an artifact reference to the manifest descriptor
// that notation compares with the signed payload, lists the Notary Project
// signatures that refer to that manifest, and downloads their envelopes.
//
// It follows notation-go v1.3.2 (notation.Verify and its registry package):
//
//   - [Client.Resolve] resolves REGISTRY/REPOSITORY:TAG or
//     REGISTRY/REPOSITORY@DIGEST with a HEAD request on the manifest, as
//     notation does, and returns the descriptor (media type, digest, size)
//     together with the canonical REGISTRY/REPOSITORY@DIGEST reference.
//   - [Client.Signatures] lists the referrers of that manifest whose
//     artifactType is application/vnd.cncf.notary.signature through the OCI
//     referrers API, and falls back to the referrers tag schema (an image index
//     tagged "sha256-<hex>") when the registry has no referrers API. The
//     detection is oras-go's: a 404 from the referrers endpoint means "no API".
//     Signatures come in the order the registry lists them, one at a time: a
//     signature's manifest and envelope are fetched only when it is its turn,
//     so a caller that stops at the first signature that verifies (as
//     notation does) fetches nothing more.
//   - [Client.FetchSignature] fetches one signature the caller already knows
//     by its manifest descriptor (as Ratify hands a verifier one referrer),
//     under the same rules. [ParseReference] checks a reference as Resolve
//     does, without any network, and [Client.WithMaxSignatures] gives one
//     caller its own signature limit on a shared client.
//   - [NewLayout] gives a Client that reads an OCI image layout (a folder,
//     or a tar of one, as oras copy --to-oci-layout writes it) instead of a
//     registry, with no network: the same Resolve, Signatures and
//     FetchSignature, signatures found among the layout's manifests whose
//     subject is the artifact (oras-go's OCI store and its predecessors).
//   - [Client.WithCache] keeps what a Client read in memory, so a second
//     verification of one artifact (under another policy) asks nothing;
//     [Client.Tags], [Client.IndexManifests] and [Client.Repository] serve
//     bulk verification, multi-platform checks and promotion.
//   - The first signature listing on a registry host learns whether it has
//     the referrers API; later ones on that host go straight to the API or
//     to the referrers tag schema.
//   - At most [Options.MaxSignatures] signature manifests (default 100, the
//     default of notation's --max-signatures) are processed. Like notation's
//     MaxSignatureAttempts, every listed signature manifest counts, including
//     ones that fail to download or have the wrong shape.
//   - A signature manifest must be an OCI image manifest (or the deprecated
//     OCI artifact manifest that notation still reads) with exactly one
//     layer (blob), and that layer must be an application/jose+json or
//     application/cose envelope. A signature that breaks these rules is handed
//     to the caller with [Signature.Err] set, so that one broken signature
//     does not hide a good one; notation instead aborts the whole
//     verification on such an error.
//   - A signature manifest that names a subject must name the artifact it
//     was fetched for; otherwise its error is a [SignatureSubjectError]
//     (which wraps trustpolicy.ErrSubjectMismatch): a registry that lists
//     the signature of another artifact is lying, or a tag has moved.
//
// # Security
//
//   - Sizes are capped before anything is read: a referrers index or a
//     signature manifest larger than [Options.MaxManifestBytes] (default
//     4 MiB, notation's limit) and an envelope larger than
//     [Options.MaxEnvelopeBytes] (default 32 MiB, notation's limit) are
//     refused on the size their descriptor declares, and reads are limited to
//     that size.
//   - Every manifest and blob fetched by digest is verified against its
//     descriptor: the content must have exactly the declared size and hash to
//     the declared digest (oras-go's content.ReadAll), so a registry that lies
//     about content is caught. Digests taken from registry responses are
//     validated before they are used to build request URLs.
//   - Tag resolution trusts the registry, as notation does: the digest comes
//     from the Docker-Content-Digest header of a HEAD response. What a
//     signature covers is that digest, and the verifier checks that the signed
//     payload names the same digest, media type and size, so a lying registry
//     can make verification fail but cannot make an unsigned artifact pass.
//     Callers should pull by the returned digest reference, never by tag.
//   - [Options.PlainHTTP] makes every request to the registry use plain HTTP
//     instead of HTTPS, for any host, exactly like notation's
//     --insecure-registry: no TLS, so nothing authenticates the registry and
//     credentials travel in clear text. It is meant for local test registries.
//     Without it, the default HTTP client refuses every plain-HTTP request,
//     including redirects from HTTPS to HTTP and token realms on http:// URLs.
//   - Redirects are followed (registries commonly redirect blob downloads to a
//     storage host or CDN; the content is verified by digest anyway). Go's
//     HTTP client drops the Authorization header when a redirect leaves the
//     original host.
//   - Credentials come from [Options.Credentials] or, when it is nil, from
//     the docker configuration ($DOCKER_CONFIG/config.json or
//     ~/.docker/config.json, with its credsStore and credHelpers, and the
//     platform's default credential helper when the file configures none)
//     through oras-go's credentials package: where `docker login` (and
//     usually `notation login`) put them. The configuration is read lazily,
//     the first time a registry asks for authentication, so anonymous access
//     never touches it; an error reading it is returned, not ignored.
//     (notation itself first consults the credential settings of its own
//     config.json, when that file has any, and only then the docker
//     configuration; this package reads the docker configuration only.)
//     Credentials never appear in errors. Text that a registry controls
//     (error bodies, URLs) has its control and bidirectional characters
//     escaped (internal/textsafe, the project's one rule) before it
//     reaches an error message, so a hostile registry cannot drive the
//     caller's terminal.
//
// # Errors
//
// Errors name the reference and what went wrong, and wrap the sentinel
// errors [ErrInvalidReference], [ErrNotFound], [ErrUnauthorized],
// [ErrNoSignatures] and [ErrTooManySignatures] where they apply
// ([ErrInvalidReference] is trustpolicy.ErrInvalidReference), as well as
// the underlying oras-go and net/http errors.
//
// # Concurrency
//
// A [Client] is safe for concurrent use by multiple goroutines; it shares its
// HTTP connections and authentication tokens between calls. The callback of
// [Client.Signatures] runs on the calling goroutine. The package has no
// mutable global state and never prints or logs.
package registry
