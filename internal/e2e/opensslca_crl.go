package e2e

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// PublishCRL runs openssl ca -gencrl for every CA (-crlsec from
// CAOptions.CRLValidity) and serves the result as DER at [OpenSSLCA.CRLURLOf].
// With CAOptions.Delta it also keeps that CRL as the delta base and publishes
// an empty delta CRL against it (see [OpenSSLCA.PublishDeltaCRL]). With
// CAOptions.Partitions it also publishes the intermediate's partitioned
// CRLs (see [OpenSSLCA.PartitionCRLURL]).
func (c *OpenSSLCA) PublishCRL() error {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	return c.publishCRL(ctx)
}

func (c *OpenSSLCA) publishCRL(ctx context.Context) error {
	return c.parallel(len(c.cas), func(i int) error {
		ca := c.cas[i]
		ca.mu.Lock()
		defer ca.mu.Unlock()
		pemCRL, err := c.genCRL(ctx, ca, "ca_default")
		if err != nil {
			return err
		}
		if err := osslWriteFile(ca.publishedPath(), osslPEMToDER(pemCRL)); err != nil {
			return err
		}
		if err := c.publishPartitions(ctx, ca); err != nil {
			return err
		}
		if !c.opts.Delta {
			return nil
		}
		if err := osslWriteFile(ca.path("base.pem"), pemCRL); err != nil {
			return err
		}
		return c.makeDelta(ctx, ca)
	})
}

// PublishDeltaCRL publishes, for every CA, a delta CRL against the base that
// the last [OpenSSLCA.PublishCRL] published: openssl ca -gencrl makes a newer
// full CRL (not published) and "openssl crl -in base -gendelta newer" keeps
// the entries the base lacks, with DeltaCRLIndicator = the base's number and
// CRL number = the newer one's. It needs CAOptions.Delta. OpenSSL's delta
// holds only serials absent from the base, so it cannot carry a
// removeFromCRL for a serial the base lists as on hold.
func (c *OpenSSLCA) PublishDeltaCRL() error {
	if !c.opts.Delta {
		return errors.New("e2e: PublishDeltaCRL needs CAOptions.Delta")
	}
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	return c.parallel(len(c.cas), func(i int) error {
		ca := c.cas[i]
		ca.mu.Lock()
		defer ca.mu.Unlock()
		return c.makeDelta(ctx, ca)
	})
}

// makeDelta diffs a fresh full CRL against base.pem. The caller holds ca.mu.
func (c *OpenSSLCA) makeDelta(ctx context.Context, ca *osslCA) error {
	newer, err := c.genCRL(ctx, ca, "ca_default")
	if err != nil {
		return err
	}
	newerPath := ca.path("newer.pem")
	if err := osslWriteFile(newerPath, newer); err != nil {
		return err
	}
	out := ca.path("delta.tmp")
	defer os.Remove(out)
	if _, err := c.openssl(ctx, "crl", "-in", ca.path("base.pem"), "-gendelta", newerPath,
		"-key", ca.keyPath(), "-sha256", "-outform", "DER", "-out", out); err != nil {
		return err
	}
	return os.Rename(out, ca.deltaPath())
}

// genCRL runs openssl ca -gencrl with the given config section and returns
// the PEM. The caller holds ca.mu.
func (c *OpenSSLCA) genCRL(ctx context.Context, ca *osslCA, section string, extra ...string) ([]byte, error) {
	f, err := os.CreateTemp(filepath.Join(c.dir, "tmp"), "crl-*.pem")
	if err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	f.Close()
	defer os.Remove(f.Name())
	args := []string{"ca", "-batch", "-config", ca.cnf(), "-name", section, "-gencrl", "-out", f.Name()}
	if len(extra) == 0 {
		secs := max(int64(c.opts.CRLValidity/time.Second), 1)
		extra = []string{"-crlsec", strconv.FormatInt(secs, 10)}
	}
	if _, err := c.openssl(ctx, append(args, extra...)...); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(f.Name())
	if err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	return data, nil
}

func osslPEMToDER(data []byte) []byte {
	if b, _ := pem.Decode(data); b != nil {
		return b.Bytes
	}
	return data
}
