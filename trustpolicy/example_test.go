package trustpolicy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// The examples read a notation configuration and a signed artifact from
// testdata/example (see its README): a policy with the statements
// "release", "partner" and "mirror", the trust store ca:release, and a COSE
// signature by the test PKI's ec-256 leaf (valid 2025 to 2036).

// exampleNow is the verification time: the engine never reads the clock.
var exampleNow = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

func examplePaths() trustpolicy.Paths {
	return trustpolicy.Paths{
		Policy:     filepath.Join("testdata", "example", "notation", "trustpolicy.json"),
		TrustStore: filepath.Join("testdata", "example", "notation", "truststore"),
	}
}

// exampleInput is the example signature, for the artifact in repository
// repo, verified at now.
func exampleInput(repo string, now time.Time) (trustpolicy.Input, error) {
	dir := filepath.Join("testdata", "example", "artifact")
	descJSON, err := os.ReadFile(filepath.Join(dir, "descriptor.json"))
	if err != nil {
		return trustpolicy.Input{}, err
	}
	var desc ocispec.Descriptor
	if err := json.Unmarshal(descJSON, &desc); err != nil {
		return trustpolicy.Input{}, err
	}
	envelope, err := os.ReadFile(filepath.Join(dir, "signature.cose"))
	if err != nil {
		return trustpolicy.Input{}, err
	}
	return trustpolicy.Input{
		Reference:  repo + "@" + desc.Digest.String(),
		Descriptor: desc,
		Envelope:   envelope,
		MediaType:  "application/cose",
		Now:        now,
	}, nil
}

// Load the policy and the trust stores it names, build the engine, verify
// one signature and read the result.
func Example() {
	// The revocation checker is the engine's only dependency that may do
	// I/O; NonRevokableOnly needs none (the test PKI names no OCSP
	// responder or CRL). A real gate uses revocation.New.
	engine, err := trustpolicy.Load(examplePaths(), revocation.NonRevokableOnly())
	if err != nil {
		fmt.Println(err)
		return
	}
	in, err := exampleInput("registry.example/release", exampleNow)
	if err != nil {
		fmt.Println(err)
		return
	}
	res := engine.Evaluate(context.Background(), in)
	fmt.Println("verdict:", res.Verdict)
	fmt.Printf("policy: %s (level %s)\n", res.Policy.Name, res.Policy.Level)
	for _, c := range res.Checks {
		fmt.Printf("  %-18s %-7s %s\n", c.Type, c.Action, c.Outcome)
	}
	root := res.Chain[len(res.Chain)-1]
	fmt.Printf("root %q is in %s\n", root.Subject, root.Trusted)
	// Output:
	// verdict: verified
	// policy: release (level strict)
	//   integrity          enforce passed
	//   authenticity       enforce passed
	//   expiry             enforce passed
	//   authenticTimestamp enforce passed
	//   revocation         enforce passed
	// root "CN=Test Root EC-256,O=Notation PKCS11 Test,L=Seattle,ST=WA,C=US" is in ca:release
}

// A failed verification says which check failed, why, and the fix. Under
// statement "partner" the same signature fails its trusted-identity check;
// the error is an *IdentityError and its fix is the edit of
// trustpolicy.json that makes the certificate match.
func ExampleEngine_Evaluate_identity() {
	engine, err := trustpolicy.Load(examplePaths(), revocation.NonRevokableOnly())
	if err != nil {
		fmt.Println(err)
		return
	}
	in, err := exampleInput("registry.example/partner", exampleNow)
	if err != nil {
		fmt.Println(err)
		return
	}
	res := engine.Evaluate(context.Background(), in)
	fmt.Println("verdict:", res.Verdict)
	for _, c := range res.Checks {
		if c.Outcome == trustpolicy.OutcomeFailed && c.Action == trustpolicy.ActionEnforce {
			fmt.Println("failed check:", c.Type)
		}
	}
	var ie *trustpolicy.IdentityError
	if errors.As(res.Err(), &ie) {
		fmt.Println("leaf:", ie.Leaf)
	}
	fmt.Println("fix:", res.Fix)
	// Output:
	// verdict: failed
	// failed check: authenticity
	// leaf: CN=Test Signing EC-256,O=Notation PKCS11 Test,L=Seattle,ST=WA,C=US
	// fix: add "x509.subject: C=US, ST=WA, O=Notation PKCS11 Test, CN=Test Signing EC-256, L=Seattle" to trustedIdentities of statement "partner" (trustPolicies[1])
}

// Time is an input: the same signature verified after its certificate
// expired fails the authentic-timestamp check (without a timestamp, every
// certificate must be valid at Input.Now). Summary is the one-line form.
func ExampleEngine_Evaluate_expired() {
	engine, err := trustpolicy.Load(examplePaths(), revocation.NonRevokableOnly())
	if err != nil {
		fmt.Println(err)
		return
	}
	in, err := exampleInput("registry.example/release", time.Date(2037, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		fmt.Println(err)
		return
	}
	res := engine.Evaluate(context.Background(), in)
	fmt.Println("verdict:", res.Verdict)
	fmt.Println("expiry:", res.Check(trustpolicy.TypeAuthenticTimestamp).Outcome)
	fmt.Println("fix:", res.Fix)
	// Output:
	// verdict: failed
	// expiry: failed
	// fix: certificate "CN=Test Signing EC-256,O=Notation PKCS11 Test,L=Seattle,ST=WA,C=US" expired at 2036-01-01T00:00:00Z: renew it and re-sign the artifact, or sign with an RFC 3161 timestamp (notation sign --timestamp-url) and list a tsa trust store in policy "release"
}

// The engine can be built from its parts: a compiled policy and the trust
// stores it names. Select answers which statement applies before any
// signature is fetched, which is how a gate honours level skip without
// touching the registry.
func ExampleNew() {
	p := examplePaths()
	doc, err := trustpolicy.LoadDocument(p.Policy)
	if err != nil {
		fmt.Println(err)
		return
	}
	policy, err := trustpolicy.Compile(doc)
	if err != nil {
		fmt.Println(err)
		return
	}
	engine, err := trustpolicy.New(trustpolicy.Config{
		Policy:     policy,
		Stores:     truststore.Load(p.TrustStore, policy.StoreRefs()),
		Revocation: revocation.NonRevokableOnly(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, match, err := engine.Select("registry.example/mirror@sha256:1ccb399e44f3e0ec86bb1a95031c6b9f81ac77860556a81a90acb79bab8005d9")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(match.Name, match.Level)
	fmt.Println(match.Why)
	// Output:
	// mirror skip
	// no statement lists "registry.example/mirror" in registryScopes, so the wildcard statement "mirror" applies
}

// Lint reports every problem of a policy document, each naming its JSON
// path; Compile refuses the document with the first of them.
func ExampleLint() {
	doc, err := trustpolicy.ParseDocument([]byte(`{"version": "1.0", "trustPolicies": [{
		"name": "release",
		"registryScopes": ["registry.example/Release"],
		"signatureVerification": {"level": "strict"},
		"trustStores": ["ca:release"],
		"trustedIdentities": ["*"]}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range trustpolicy.Lint(doc) {
		fmt.Println(p)
	}
	_, err = trustpolicy.Compile(doc)
	fmt.Println(errors.Is(err, trustpolicy.ErrInvalidPolicy))
	// Output:
	// trustPolicies[0].registryScopes[0] "registry.example/Release": not a valid registry scope; use REGISTRY[:PORT]/REPOSITORY with a lower-case repository and no scheme, tag or digest, e.g. "registry.example.com/team/app" (the repository must be lower case)
	// true
}
