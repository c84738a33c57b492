// Package gatekeeper holds the interop tests of "trustpolicy serve" with
// Gatekeeper's own code, in a module of its own so that the main module's
// users never inherit Gatekeeper, OPA and the Kubernetes libraries:
//
//   - the manifests under deploy/ decode strictly into the official API
//     types (k8s.io/api, Gatekeeper's Provider and ConstraintTemplate, the
//     Constraint's match) and the ConstraintTemplate compiles in
//     Gatekeeper's Rego driver;
//   - Gatekeeper's provider client (externaldata.DefaultSendRequestToProvider,
//     at the frameworks version Gatekeeper v3.23.1 pins) calls the built
//     trustpolicy binary over TLS with the caBundle deploy/tls.sh makes and a
//     client certificate, and is refused with the wrong CA or without a
//     client certificate;
//   - Gatekeeper's policy engine (the frameworks constraint client, the Rego
//     driver with external data, Gatekeeper's Kubernetes target) evaluates
//     the shipped ConstraintTemplate and Constraints against Pod admission
//     requests for real images in a loopback registry.
//
// The images, CA and policy come from the main module's
// internal/e2e/admissionworld program, built and run by the tests: Go does
// not let another module import internal/e2e, and a program keeps one copy
// of the set-up. Run with the peer tools:
//
//	cd interop/gatekeeper && NOTATION_PKCS11_TOOLS_BIN=$HOME/.cache/notation-pkcs11/tools/bin NOTATION_PKCS11_E2E=required go test -count=1 ./...
package gatekeeper
