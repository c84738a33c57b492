package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
)

// maxCertFile caps a certificate file read by cert import and cert lint.
const maxCertFile = 1 << 20

// certFormats names what the certificate files may be, for help texts.
const certFormats = `Certificate files may be PEM (CERTIFICATE or PKCS7 blocks), DER (.cer, .crt,
one or more certificates) or a DER certs-only PKCS#7 bundle (.p7b, as AD CS
exports a chain), in any order.`

// readCertFiles reads and parses certificate files. A file that is
// missing, unreadable or not certificates is a usage error (exit 2) that
// names the file.
func readCertFiles(paths []string) ([]*x509.Certificate, error) {
	var all []*x509.Certificate
	for _, p := range paths {
		certs, err := readCertFile(p)
		if err != nil {
			return nil, err
		}
		all = append(all, certs...)
	}
	return all, nil
}

// readCertFile opens without blocking (a FIFO would wait for a writer) and
// checks what it opened.
func readCertFile(p string) ([]*x509.Certificate, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fileError(p, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, fileError(p, err)
	} else if !st.Mode().IsRegular() {
		return nil, cli.Usagef("%s: not a regular file", p)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxCertFile+1))
	if err != nil {
		return nil, fileError(p, err)
	}
	if len(b) > maxCertFile {
		return nil, cli.Usagef("%s: larger than %d bytes; a certificate file is much smaller", p, maxCertFile)
	}
	certs, err := pki.ParseCertificates(b)
	if err != nil {
		return nil, &cli.UsageError{Err: fmt.Errorf("%s: %w", p, err)}
	}
	return certs, nil
}

// fileError is the usage error for a file that cannot be opened or read:
// "PATH: no such file or directory".
func fileError(p string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &cli.UsageError{Err: fmt.Errorf("%s: %w", p, err)}
}

// checkOutDir refuses an output file whose folder does not exist, before
// any work is done: a usage error.
func checkOutDir(flag, path string) error {
	if path == "" {
		return nil
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case err != nil:
		return cli.Usagef("--%s %s: folder %s: %v", flag, path, dir, unwrapPath(err))
	case !st.IsDir():
		return cli.Usagef("--%s %s: %s is not a folder", flag, path, dir)
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

const csrLong = `Make a PKCS#10 certificate request for the key, signed inside the HSM, with the
extensions a Notation signing certificate needs (critical keyUsage
digitalSignature, extendedKeyUsage codeSigning). The subject is NAME=value pairs
separated by commas (C, ST and O required; also L, OU, CN, SERIALNUMBER), each
once, with attribute types in upper case: notation's own DN parser checks it, as
it checks a trust policy x509.subject identity. --output json prints the
identity the certificate will have.

Exit codes: 0 written; 1 the token or key failed; 2 usage error (a bad
--subject, a missing --out folder).`

func (a *app) csrCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "csr --key URI --subject DN [--out FILE]",
		Short: "make a certificate request for a key",
		Long:  csrLong,
		Example: `  notation-pkcs11 csr --key 'pkcs11:token=release;object=release-2026' \
      --subject "C=US,ST=WA,O=Acme,CN=Release Signing" --out release.csr`,
		Args: cobra.NoArgs,
	}
	out := cli.OutputFlag(cmd)
	cfg := addConfigFlag(cmd)
	key := cmd.Flags().String("key", "", "key `URI` (required)")
	subject := cmd.Flags().String("subject", "", "certificate subject `DN`, e.g. \"C=US,ST=WA,O=Acme,CN=Release Signing\" (required)")
	outFile := cmd.Flags().String("out", "", "write the PEM request to `FILE` (default: standard output)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		for _, r := range [][2]string{{"key", *key}, {"subject", *subject}} {
			if err := required(r[0], r[1]); err != nil {
				return err
			}
		}
		name, err := pki.ParseSubject(*subject)
		if err != nil {
			return &cli.UsageError{Err: fmt.Errorf("--subject: %w", err)}
		}
		if err := checkOutDir("out", *outFile); err != nil {
			return err
		}
		config, err := cfg.m()
		if err != nil {
			return err
		}
		der, ks, err := a.plugin().CreateCSR(a.ctx, *key, config, name)
		if err != nil {
			return err
		}
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
		if *outFile != "" {
			if err := os.WriteFile(*outFile, pemBytes, 0o644); err != nil {
				return fmt.Errorf("writing the request: %w", err)
			}
		}
		w := cmd.OutOrStdout()
		if out.JSON() {
			doc := map[string]string{"schema": schemaCSR, "subject": name.String(), "keySpec": ks, "csr": string(pemBytes), "file": *outFile}
			if id, err := pki.SubjectIdentity(name); err == nil {
				doc["identity"] = id
			}
			return cli.WriteJSON(w, doc)
		}
		if *outFile == "" {
			_, err = w.Write(pemBytes)
			return err
		}
		_, err = fmt.Fprintf(w, "wrote the %s request for %s to %s; give it to your CA\n", ks, quote(name.String()), textsafe.Escape(*outFile))
		return err
	}
	return cmd
}

const certImportLong = `Store the signing certificate of the key (with the key's CKA_ID and label) and
the CA certificates of its chain that the token lacks. Nothing is written unless
one certificate holds the key's public key, the chain to a self-signed root can
be built from the files and the token, and it meets the Notary Project signing
rules now. Importing the same chain twice is harmless.

` + certFormats + `

With --output json a chain refused by the signing rules prints the document
with "ok": false and the findings, each with its stable rule ID ("id"), as
cert lint does; other failures print the error document.

Exit codes: 0 imported; 1 refused (the chain breaks a rule, no certificate
matches the key, the token failed); 2 usage error (a missing or unreadable file,
a file that is not certificates).`

func (a *app) certImportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import --key URI FILE...",
		Short: "store a key's certificate and its chain on the token",
		Long:  certImportLong,
		Example: `  notation-pkcs11 cert import --key 'pkcs11:token=release;object=release-2026' release-chain.pem
  notation-pkcs11 cert import --key "$KEY" release.cer issuing-ca.p7b`,
		Args: cobra.MinimumNArgs(1),
	}
	out := cli.OutputFlag(cmd)
	cfg := addConfigFlag(cmd)
	key := cmd.Flags().String("key", "", "key `URI` (required)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := required("key", *key); err != nil {
			return err
		}
		certs, err := readCertFiles(args)
		if err != nil {
			return err
		}
		config, err := cfg.m()
		if err != nil {
			return err
		}
		res, err := a.plugin().ImportCertificates(a.ctx, *key, config, certs)
		var ce *pki.ChainError
		if out.JSON() && errors.As(err, &ce) {
			// Refused by the signing rules, nothing written: the findings
			// with their rule IDs, as cert lint prints them.
			if err := cli.WriteJSON(cmd.OutOrStdout(), map[string]any{"schema": schemaCertImport, "ok": false, "chain": []any{}, "findings": ce.Findings}); err != nil {
				return err
			}
			return &cli.ExitError{Code: cli.ExitFailed}
		}
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		if out.JSON() {
			type certJSON struct {
				Subject  string `json:"subject"`
				SHA256   string `json:"sha256"`
				Imported bool   `json:"imported"`
			}
			list := make([]certJSON, len(res.Chain))
			for i, c := range res.Chain {
				sum := sha256.Sum256(c.Raw)
				list[i] = certJSON{c.Subject.String(), hex.EncodeToString(sum[:]), contains(res.Imported, c)}
			}
			return cli.WriteJSON(w, map[string]any{"schema": schemaCertImport, "ok": true, "chain": list, "findings": []pki.Finding{}})
		}
		for i, c := range res.Chain {
			what := "already on the token"
			if contains(res.Imported, c) {
				what = "imported"
			}
			role := "CA"
			if i == 0 {
				role = "signing certificate"
			}
			fmt.Fprintf(w, "%s %s: %s\n", role, quote(c.Subject.String()), what)
		}
		_, err = fmt.Fprintln(w, "the chain meets the Notary Project signing rules; check everything with notation-pkcs11 doctor --key URI")
		return err
	}
	return cmd
}

func contains(list []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range list {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

const certLintLong = `Check certificates as one signing chain against every Notary Project signing-
certificate rule, and print each broken rule with the certificate's subject and
the fix. The signing certificate is the one that issued none of the others.
Errors are rules notation enforces; warnings (a subject no trust policy identity
can name, a self-signed signing certificate, expiry within 30 days, a
certificate that is not part of the chain) do not stop signing. Each finding
names its stable rule ID ([leaf-ext-key-usage]; "id" in --output json); the
IDs are listed in docs/pki-workflow.md.

` + certFormats + `

Exit codes: 0 no error (warnings may be printed); 1 at least one rule is
broken; 2 usage error (a missing or unreadable file, a file that is not
certificates).`

func (a *app) certLintCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lint FILE...",
		Short: "check a certificate chain against the Notary Project rules",
		Long:  certLintLong,
		Example: `  notation-pkcs11 cert lint release-chain.pem
  notation-pkcs11 cert lint leaf.cer chain.p7b --output json`,
		Args: cobra.MinimumNArgs(1),
	}
	out := cli.OutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		certs, err := readCertFiles(args)
		if err != nil {
			return err
		}
		chain, findings := pki.LintCertificates(certs, time.Now())
		broken := 0
		for _, f := range findings {
			if f.Severity == pki.SeverityError {
				broken++
			}
		}
		w := cmd.OutOrStdout()
		if out.JSON() {
			subjects := make([]string, len(chain))
			for i, c := range chain {
				subjects[i] = c.Subject.String()
			}
			if findings == nil {
				findings = []pki.Finding{}
			}
			if err := cli.WriteJSON(w, map[string]any{"schema": schemaCertLint, "ok": broken == 0, "chain": subjects, "findings": findings}); err != nil {
				return err
			}
		} else {
			for i, c := range chain {
				fmt.Fprintf(w, "chain[%d] %s\n", i, quote(c.Subject.String()))
			}
			for _, f := range findings {
				fmt.Fprintf(w, "%s [%s]: %s\n", strings.ToUpper(string(f.Severity)), f.ID, textsafe.Escape(f.String()))
			}
			if broken == 0 {
				fmt.Fprintf(w, "ok: the chain meets the Notary Project signing rules (%d warning(s))\n", len(findings))
			} else {
				fmt.Fprintf(w, "%d rule(s) broken: notation would refuse this chain\n", broken)
			}
		}
		if broken > 0 {
			return &cli.ExitError{Code: cli.ExitFailed}
		}
		return nil
	}
	return cmd
}
