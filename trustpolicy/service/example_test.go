package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
)

// A Service over an engine loaded from a notation configuration verifies a
// signature the caller already has (VerifyEnvelope: no registry needed).
// The artifact is named by tag, so the report carries notation's tag
// warning and names the digest that was verified. The example reads
// trustpolicy/testdata/example (see its README).
func ExampleService_VerifyEnvelope() {
	dir := filepath.Join("..", "testdata", "example")
	engine, err := trustpolicy.Load(trustpolicy.Paths{
		Policy:     filepath.Join(dir, "notation", "trustpolicy.json"),
		TrustStore: filepath.Join(dir, "notation", "truststore"),
	}, revocation.NonRevokableOnly())
	if err != nil {
		fmt.Println(err)
		return
	}
	svc, err := service.New(service.Config{
		Engine: engine,
		// The engine never reads the clock; the Service's clock is fixed
		// here so the output does not depend on the day it runs.
		Now: func() time.Time { return time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	descJSON, err := os.ReadFile(filepath.Join(dir, "artifact", "descriptor.json"))
	if err != nil {
		fmt.Println(err)
		return
	}
	var desc ocispec.Descriptor
	if err := json.Unmarshal(descJSON, &desc); err != nil {
		fmt.Println(err)
		return
	}
	sig, err := os.ReadFile(filepath.Join(dir, "artifact", "signature.cose"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, repo := range []string{"registry.example/release", "registry.example/partner"} {
		report, err := svc.VerifyEnvelope(context.Background(), service.Envelope{
			Data: sig, MediaType: "application/cose", Descriptor: desc, Reference: repo + ":v1",
		}, service.Options{})
		if err != nil {
			fmt.Println(err) // bad input only: an *service.InputError
			return
		}
		fmt.Println(report.Verdict, report.Reference)
		fmt.Printf("  tag %q, %d warning\n", report.Tag, len(report.Warnings))
		for _, sig := range report.Signatures {
			if sig.Fix != "" {
				fmt.Println("  fix:", sig.Fix)
			}
		}
	}
	// Output:
	// verified registry.example/release@sha256:1ccb399e44f3e0ec86bb1a95031c6b9f81ac77860556a81a90acb79bab8005d9
	//   tag "v1", 1 warning
	// failed registry.example/partner@sha256:1ccb399e44f3e0ec86bb1a95031c6b9f81ac77860556a81a90acb79bab8005d9
	//   tag "v1", 1 warning
	//   fix: add "x509.subject: C=US, ST=WA, O=Notation PKCS11 Test, CN=Test Signing EC-256, L=Seattle" to trustedIdentities of statement "partner" (trustPolicies[1])
}
