module github.com/notation-pkcs11/notation-pkcs11

go 1.26
