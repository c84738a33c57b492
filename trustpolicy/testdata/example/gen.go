//go:build ignore

// gen writes the example's artifact: a descriptor and a COSE signature over
// it by the ec-256 leaf of the test PKI (testdata/pki), and the trust store
// holding that PKI's root. Run it from this folder:
//
//	go run gen.go
//
// The signature's signing time is the time it is run; the examples never
// print it.
package main

import (
	"context"
	"encoding/json"
	"log"
	"os"
	"path/filepath"

	"github.com/notaryproject/notation-go"
	nsigner "github.com/notaryproject/notation-go/signer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
)

func main() {
	pki := filepath.Join("..", "..", "..", "testdata", "pki", "ec-256")
	chain, err := testpki.LoadCertificates(filepath.Join(pki, "chain.pem"))
	if err != nil {
		log.Fatal(err)
	}
	key, err := testpki.LoadSigner(filepath.Join(pki, "leaf.key"))
	if err != nil {
		log.Fatal(err)
	}
	signer, err := nsigner.NewGenericSigner(key, chain)
	if err != nil {
		log.Fatal(err)
	}
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`)
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(manifest), Size: int64(len(manifest))}
	env, _, err := signer.Sign(context.Background(), desc, notation.SignerSignOptions{SignatureMediaType: "application/cose"})
	if err != nil {
		log.Fatal(err)
	}
	descJSON, err := json.MarshalIndent(desc, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	root, err := os.ReadFile(filepath.Join(pki, "root.crt"))
	if err != nil {
		log.Fatal(err)
	}
	files := map[string][]byte{
		"artifact/descriptor.json":                     append(descJSON, '\n'),
		"artifact/signature.cose":                      env,
		"notation/truststore/x509/ca/release/root.crt": root,
	}
	for name, data := range files {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(name, data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
