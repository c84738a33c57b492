// Command gen writes the test PKI into a directory.
//
// usage: go run ./gen -out DIR
package main

import (
	"flag"
	"log"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
)

func main() {
	out := flag.String("out", "", "directory to write the test PKI into")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		log.Fatal("usage: gen -out DIR")
	}
	if err := testpki.Generate(*out); err != nil {
		log.Fatal(err)
	}
}
