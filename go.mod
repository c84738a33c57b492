module github.com/notation-pkcs11/notation-pkcs11

go 1.26.0

require (
	github.com/ThalesGroup/crypto11 v1.6.0
	github.com/miekg/pkcs11 v1.1.1
	github.com/notaryproject/notation-core-go v1.3.0
	github.com/notaryproject/notation-plugin-framework-go v1.0.0
	golang.org/x/crypto v0.58.0
	golang.org/x/sys v0.49.0
)

require (
	github.com/pkg/errors v0.9.1 // indirect
	github.com/thales-e-security/pool v0.0.2 // indirect
)
