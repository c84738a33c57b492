package revocation

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"
)

// Offline hints. An offline check that lacks a CRL says how to bring it
// in with commands that work as printed. The CRLs of a chain are issued by
// its intermediate CAs, which are not trust anchors, so both crl fetch (on
// a connected machine) and crl import (here) need the chain: the hint saves
// it in the cache folder, as chains/NAME.pem, and names that file.

// chainFolder is the cache sub-folder that holds the saved chains.
const chainFolder = "chains"

// offlineHint saves chain (leaf first) in the cache and returns the crl
// fetch and crl import commands that bring its CRLs here. Without a disk
// cache (where nothing can be imported) it says so.
func (c *CRLCache) offlineHint(chain []*x509.Certificate) string {
	if c.disk == nil {
		return "CRLs can be imported only into a disk cache: verify with --crl-cache DIR and import there"
	}
	name, err := c.saveChain(chain)
	if err != nil {
		c.cacheErr(fmt.Errorf("cannot save the signing chain for the offline hint: %w", err))
		return fmt.Sprintf(`save the signing chain (PEM, leaf first) as chain.pem; on a connected machine run "trustpolicy crl fetch --out crls chain.pem" in its folder, then copy that crls folder and chain.pem here and run "trustpolicy crl import %s--issuer chain.pem crls/*.crl" in the folder that holds them`,
			c.importArgs())
	}
	saved := filepath.Join(c.dir, chainFolder, name)
	return fmt.Sprintf(`the signing chain is saved as %s; copy it to a connected machine and run "trustpolicy crl fetch --out crls %s" in its folder, then copy that crls folder here and run "trustpolicy crl import %s--issuer %s crls/*.crl" in the folder that holds it`,
		saved, name, c.importArgs(), shellQuote(saved))
}

// importArgs are the crl import flags that select this cache and the
// caller's trust stores (Options.ImportArgs), each followed by a space.
func (c *CRLCache) importArgs() string {
	var b strings.Builder
	b.WriteString("--crl-cache " + shellQuote(c.dir) + " ")
	for _, a := range c.hintArgs {
		b.WriteString(shellQuote(a) + " ")
	}
	return b.String()
}

// saveChain writes chain as PEM to chains/HASH.pem (HASH names the exact
// chain) and returns the file name.
func (c *CRLCache) saveChain(chain []*x509.Certificate) (string, error) {
	if len(chain) == 0 {
		return "", fmt.Errorf("no chain")
	}
	var buf bytes.Buffer
	h := sha256.New()
	for _, cert := range chain {
		h.Write(cert.Raw)
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}); err != nil {
			return "", err
		}
	}
	name := "chain-" + hex.EncodeToString(h.Sum(nil)[:8]) + ".pem"
	if err := c.chains.writeAtomic(name, buf.Bytes()); err != nil {
		return "", err
	}
	return name, nil
}
