package testpki

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Generate writes the whole test PKI under dir, creating directories as
// needed and overwriting files. RSA keys already present in dir/keys are
// reused, so with the same keys the output is byte-for-byte identical.
func Generate(dir string) error {
	g := &generator{dir: dir}
	for _, kt := range KeyTypes() {
		if err := g.keyTypeChain(kt); err != nil {
			return err
		}
	}
	root, inter, err := g.authorities("ca", "ec-256", "Test Dev CA")
	if err != nil {
		return err
	}
	if err := g.write("ca/chain.pem", encodeCerts(inter.cert, root.cert)); err != nil {
		return err
	}
	if err := g.badLeaves(root, inter); err != nil {
		return err
	}
	return g.write("README.md", readme())
}

// generator carries the output directory and the number of certificates
// issued so far, which determines the next serial number.
type generator struct {
	dir    string
	issued int64
}

// authority is an issuing certificate and its key.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func (g *generator) path(rel string) string {
	return filepath.Join(g.dir, filepath.FromSlash(rel))
}

func (g *generator) write(rel string, data []byte) error {
	path := g.path(rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write file: %w", err)
	}
	return nil
}

// keyTypeChain writes <kt>/: root, intermediate and leaf of key type kt.
func (g *generator) keyTypeChain(kt string) error {
	root, inter, err := g.authorities(kt, kt, "Test")
	if err != nil {
		return err
	}
	key, keyPEM, err := g.key(kt, kt+"-leaf")
	if err != nil {
		return err
	}
	leaf, err := g.issue(leafTemplate("Test Signing "+strings.ToUpper(kt)), key.Public(), inter.cert, inter.key)
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{
		{"leaf.key", keyPEM},
		{"leaf.crt", encodeCerts(leaf)},
		{"chain.pem", encodeCerts(leaf, inter.cert, root.cert)},
	}
	for _, f := range files {
		if err := g.write(kt+"/"+f.name, f.data); err != nil {
			return err
		}
	}
	return nil
}

// authorities writes dir/root.{crt,key} and dir/intermediate.{crt,key}: a
// self-signed root and an intermediate it issued, both of key type kt.
func (g *generator) authorities(dir, kt, cnPrefix string) (root, inter authority, err error) {
	label := strings.ToUpper(kt)
	root, err = g.authority(dir, kt, "root", cnPrefix+" Root "+label, 1, nil)
	if err != nil {
		return root, inter, err
	}
	inter, err = g.authority(dir, kt, "intermediate", cnPrefix+" Intermediate "+label, 0, &root)
	return root, inter, err
}

// authority writes dir/<role>.{crt,key}: a CA certificate issued by issuer,
// or self-signed if issuer is nil.
func (g *generator) authority(dir, kt, role, cn string, pathLen int, issuer *authority) (authority, error) {
	key, keyPEM, err := g.key(kt, dir+"-"+role)
	if err != nil {
		return authority{}, err
	}
	if issuer == nil {
		issuer = &authority{key: key}
	}
	cert, err := g.issue(caTemplate(cn, pathLen), key.Public(), issuer.cert, issuer.key)
	if err != nil {
		return authority{}, err
	}
	if err := g.write(dir+"/"+role+".key", keyPEM); err != nil {
		return authority{}, err
	}
	return authority{cert: cert, key: key}, g.write(dir+"/"+role+".crt", encodeCerts(cert))
}
