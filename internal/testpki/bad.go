package testpki

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"time"
)

// badCase is one leaf under bad/, issued by the ca/ intermediate unless
// selfSigned. All but rsa-1024 share the key bad/leaf.key.
type badCase struct {
	name       string // bad/<name>.crt and bad/<name>-chain.pem
	cn         string
	key        string // bad/<key>.key
	selfSigned bool   // the chain file holds only the leaf itself
	rule       string // what is wrong with it, for the README
	mutate     func(*x509.Certificate)
}

// badKeys are the keys under bad/: file base name and key type.
func badKeys() [][2]string {
	return [][2]string{{"leaf", "ec-256"}, {"other", "ec-256"}, {"rsa-1024", "rsa-1024"}}
}

// oidKeyUsage is the keyUsage extension, 2.5.29.15.
func oidKeyUsage() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 5, 29, 15} }

func badCases() []badCase {
	validity := func(from, to int) func(*x509.Certificate) {
		return func(c *x509.Certificate) {
			c.NotBefore = time.Date(from, 1, 1, 0, 0, 0, 0, time.UTC)
			c.NotAfter = time.Date(to, 1, 1, 0, 0, 0, 0, time.UTC)
		}
	}
	return []badCase{
		{"serverauth-eku", "Bad Leaf ServerAuth EKU", "leaf", false,
			"extended key usage is serverAuth instead of codeSigning",
			func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }},
		{"no-keyusage", "Bad Leaf No KeyUsage", "leaf", false,
			"no keyUsage extension (it must be present and critical)",
			func(c *x509.Certificate) { c.KeyUsage = 0 }},
		{"keyusage-noncritical", "Bad Leaf KeyUsage Not Critical", "leaf", false,
			"keyUsage digitalSignature, but the extension is not critical",
			func(c *x509.Certificate) {
				c.KeyUsage = 0
				// BIT STRING, 7 unused bits, bit 0 (digitalSignature) set.
				value := []byte{0x03, 0x02, 0x07, 0x80}
				c.ExtraExtensions = []pkix.Extension{{Id: oidKeyUsage(), Critical: false, Value: value}}
			}},
		{"keyusage-keycertsign", "Bad Leaf KeyUsage KeyCertSign", "leaf", false,
			"keyUsage digitalSignature and keyCertSign (a leaf must have digitalSignature only)",
			func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageCertSign }},
		{"ca-leaf", "Bad Leaf CA", "leaf", false,
			"basicConstraints CA:true on the signing certificate",
			func(c *x509.Certificate) { c.IsCA = true }},
		{"expired", "Bad Leaf Expired", "leaf", false,
			"expired: valid 2020-01-01 to 2021-01-01",
			validity(2020, 2021)},
		{"not-yet-valid", "Bad Leaf Not Yet Valid", "leaf", false,
			"not yet valid: valid 2090-01-01 to 2095-01-01",
			validity(2090, 2095)},
		{"rsa-1024", "Bad Leaf RSA-1024", "rsa-1024", false,
			"RSA 1024-bit key (the minimum is 2048); key bad/rsa-1024.key",
			nil},
		{"self-signed-leaf", "Bad Leaf Self-Signed", "leaf", true,
			"self-signed leaf with a valid leaf profile; its chain file holds only itself",
			nil},
		{"ok-leaf", "Test Signing Dev CA EC-256", "leaf", false,
			"nothing: a valid leaf, used by missing-intermediate-chain.pem and wrong-order-chain.pem",
			nil},
		{"other-key", "Test Signing Other Key EC-256", "other", false,
			"valid, but for bad/other.key: does not match an HSM key holding bad/leaf.key",
			nil},
	}
}

// badLeaves writes bad/: the keys, every bad case, and the chains derived
// from ok-leaf.
func (g *generator) badLeaves(root, inter authority) error {
	keys := map[string]crypto.Signer{}
	for _, k := range badKeys() {
		key, keyPEM, err := g.key(k[1], "bad-"+k[0])
		if err != nil {
			return err
		}
		keys[k[0]] = key
		if err := g.write("bad/"+k[0]+".key", keyPEM); err != nil {
			return err
		}
	}
	var okLeaf *x509.Certificate
	for _, bc := range badCases() {
		tmpl := leafTemplate(bc.cn)
		if bc.mutate != nil {
			bc.mutate(tmpl)
		}
		key := keys[bc.key]
		issuer := inter
		if bc.selfSigned {
			issuer = authority{key: key}
		}
		leaf, err := g.issue(tmpl, key.Public(), issuer.cert, issuer.key)
		if err != nil {
			return err
		}
		chain := encodeCerts(leaf, inter.cert, root.cert)
		if bc.selfSigned {
			chain = encodeCerts(leaf)
		}
		if err := g.write("bad/"+bc.name+".crt", encodeCerts(leaf)); err != nil {
			return err
		}
		if err := g.write("bad/"+bc.name+"-chain.pem", chain); err != nil {
			return err
		}
		if bc.name == "ok-leaf" {
			okLeaf = leaf
		}
	}
	if err := g.write("bad/missing-intermediate-chain.pem", encodeCerts(okLeaf, root.cert)); err != nil {
		return err
	}
	return g.write("bad/wrong-order-chain.pem", encodeCerts(root.cert, okLeaf, inter.cert))
}
