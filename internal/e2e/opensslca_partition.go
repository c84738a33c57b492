package e2e

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"strings"
)

// Partitioned CRLs (CAOptions.Partitions): the intermediate's leaves issued
// with IssueLeafIn name one partition's URL as their only CRL distribution
// point, and each partition has its own CRL (own database extract, CRL
// number file and issuingDistributionPoint), published with the others by
// PublishCRL.

// PartitionCRLURL returns http://127.0.0.1:PORT/intermediate-p<p>.crl, the
// URL of partition p (1-based) of the intermediate's CRLs.
func (c *OpenSSLCA) PartitionCRLURL(p int) string {
	return fmt.Sprintf("http://%s/%s-p%d.crl", c.crlFront.addr, CANameIntermediate, p)
}

// IssueLeafIn is [OpenSSLCA.IssueLeaf] for a leaf in partition p (1 to
// CAOptions.Partitions): its crlDistributionPoints names only
// [OpenSSLCA.PartitionCRLURL](p), and only partition p's CRL lists it once
// revoked.
func (c *OpenSSLCA) IssueLeafIn(name, subject string, p int) (certPath, keyPath string, err error) {
	if p < 1 || p > c.opts.Partitions {
		return "", "", fmt.Errorf("e2e: partition %d: this OpenSSLCA has CAOptions.Partitions %d", p, c.opts.Partitions)
	}
	certPath, keyPath, err = c.issueLeaf(name, subject, fmt.Sprintf("ext_leaf_p%d", p))
	if err != nil {
		return "", "", err
	}
	cert, err := osslReadCert(certPath)
	if err != nil {
		return "", "", err
	}
	c.mu.Lock()
	c.parts[p] = append(c.parts[p], cert.SerialNumber)
	c.mu.Unlock()
	return certPath, keyPath, nil
}

// partitionConfig appends, for each partition, an openssl ca section over
// the partition's database extract, its CRL extensions (a critical
// issuingDistributionPoint naming the partition's URL) and its leaf
// extensions.
func (c *OpenSSLCA) partitionConfig(b *strings.Builder, ca *osslCA) {
	for p := 1; p <= c.opts.Partitions; p++ {
		osslSection(b, ca, fmt.Sprintf("ca_p%d", p), fmt.Sprintf("index-p%d.txt", p), fmt.Sprintf("crlnumber-p%d", p), "ca.crt", "ca.key", fmt.Sprintf("crl_ext_p%d", p))
		fmt.Fprintf(b, "[ crl_ext_p%[1]d ]\nauthorityKeyIdentifier = keyid:always\nissuingDistributionPoint = critical, @idp_p%[1]d\n\n", p)
		fmt.Fprintf(b, "[ idp_p%d ]\nfullname = URI:%s\n\n", p, c.PartitionCRLURL(p))
		fmt.Fprintf(b, "[ ext_leaf_p%d ]\nbasicConstraints = critical,CA:false\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = codeSigning\n"+
			"subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\ncrlDistributionPoints = URI:%s\n", p, c.PartitionCRLURL(p))
		if !c.opts.NoOCSP {
			fmt.Fprintf(b, "authorityInfoAccess = OCSP;URI:%s\n", c.OCSPURL())
		}
		b.WriteString("\n")
	}
}

// publishPartitions writes each partition's database extract (the lines of
// index.txt for its leaves) and generates its CRL into crl-p<p>.der. The
// caller holds ca.mu.
func (c *OpenSSLCA) publishPartitions(ctx context.Context, ca *osslCA) error {
	if ca != c.inter || c.opts.Partitions == 0 {
		return nil
	}
	index, err := os.ReadFile(ca.path("index.txt"))
	if err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	c.mu.Lock()
	parts := make(map[int][]*big.Int, len(c.parts))
	for p, s := range c.parts {
		parts[p] = append([]*big.Int(nil), s...)
	}
	c.mu.Unlock()
	for p := 1; p <= c.opts.Partitions; p++ {
		var keep []string
		for _, line := range strings.Split(string(index), "\n") {
			f := strings.Split(line, "\t")
			if len(f) != 6 {
				continue
			}
			serial, ok := new(big.Int).SetString(f[3], 16)
			if ok && osslHasSerial(parts[p], serial) {
				keep = append(keep, line)
			}
		}
		extract := strings.Join(keep, "\n")
		if extract != "" {
			extract += "\n"
		}
		if err := osslWriteFile(ca.path(fmt.Sprintf("index-p%d.txt", p)), []byte(extract)); err != nil {
			return err
		}
		pemCRL, err := c.genCRL(ctx, ca, fmt.Sprintf("ca_p%d", p))
		if err != nil {
			return err
		}
		if err := osslWriteFile(ca.partitionPath(p), osslPEMToDER(pemCRL)); err != nil {
			return err
		}
	}
	return nil
}

func (ca *osslCA) partitionPath(p int) string { return ca.path(fmt.Sprintf("crl-p%d.der", p)) }

func osslHasSerial(list []*big.Int, s *big.Int) bool {
	for _, x := range list {
		if x.Cmp(s) == 0 {
			return true
		}
	}
	return false
}

// partitionOf parses "<ca>-p<N>" (N in 1..Partitions) into the CA name and N.
func (c *OpenSSLCA) partitionOf(base string) (string, int, bool) {
	i := strings.LastIndex(base, "-p")
	if i < 0 || c.opts.Partitions == 0 {
		return base, 0, false
	}
	var p int
	if _, err := fmt.Sscanf(base[i+2:], "%d", &p); err != nil || fmt.Sprint(p) != base[i+2:] || p < 1 || p > c.opts.Partitions {
		return base, 0, false
	}
	return base[:i], p, true
}
