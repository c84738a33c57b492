package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"

	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
	"github.com/notation-pkcs11/notation-pkcs11/plugin"
)

// maxPEMFile caps a certificate file read by cert import and cert lint.
const maxPEMFile = 1 << 20

func (c *cli) tokenList(ctx context.Context, args []string) error {
	fs, out := c.flags("token list")
	if err := c.parse(fs, out, args, 0); err != nil {
		return err
	}
	tokens, mod, err := c.p.ListTokens(ctx, c.config)
	if err != nil {
		return err
	}
	if c.json {
		return c.emitJSON(map[string]any{"module": mod, "tokens": tokens})
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "SLOT\tLABEL\tSERIAL\tMANUFACTURER\tMODEL\tSTATE\n")
	for _, t := range tokens {
		state := "initialised"
		switch {
		case !t.Initialized:
			state = "free (uninitialised)"
		case t.UserPINLocked:
			state = "user PIN locked"
		case !t.LoginRequired:
			state = "initialised, no login needed"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.Slot, t.Label, t.Serial, t.Manufacturer, t.Model, state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "module %s\n", mod)
	return nil
}

type keyJSON struct {
	URI          string   `json:"uri"`
	Label        string   `json:"label"`
	ID           string   `json:"id"`
	KeySpec      string   `json:"keySpec"`
	Certificates []string `json:"certificates"`
}

func (c *cli) keyList(ctx context.Context, args []string) error {
	fs, out := c.flags("key list")
	token := fs.String("token", "", "token URI, e.g. pkcs11:token=release")
	if err := c.parse(fs, out, args, 0); err != nil {
		return err
	}
	if err := required("token", *token); err != nil {
		return err
	}
	keys, info, err := c.p.ListKeys(ctx, *token, c.config)
	if err != nil {
		return err
	}
	list := make([]keyJSON, len(keys))
	for i, k := range keys {
		list[i] = keyJSON{URI: k.URI.String(), Label: k.Label, ID: hexID(k.ID), KeySpec: k.KeySpec, Certificates: []string{}}
		if k.KeySpec == "" {
			list[i].KeySpec = "unsupported"
		}
		for _, cert := range k.Certificates {
			list[i].Certificates = append(list[i].Certificates, cert.Subject.String())
		}
	}
	if c.json {
		return c.emitJSON(map[string]any{"token": info.Label, "keys": list})
	}
	if len(list) == 0 {
		fmt.Fprintf(c.stdout, "no keys on token %q (create one with notation-pkcs11 key generate)\n", info.Label)
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "LABEL\tID\tTYPE\tCERTIFICATE\tURI\n")
	for _, k := range list {
		cert := "none"
		if len(k.Certificates) > 0 {
			cert = strings.Join(k.Certificates, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.Label, k.ID, k.KeySpec, cert, k.URI)
	}
	return tw.Flush()
}

func (c *cli) keyGenerate(ctx context.Context, args []string) error {
	fs, out := c.flags("key generate")
	token := fs.String("token", "", "token URI, e.g. pkcs11:token=release")
	typ := fs.String("type", "", "rsa-2048, rsa-3072, rsa-4096, ec-256, ec-384 or ec-521")
	label := fs.String("label", "", "the key's label (CKA_LABEL)")
	idHex := fs.String("id", "", "the key's CKA_ID in hex (default: 8 random bytes)")
	if err := c.parse(fs, out, args, 0); err != nil {
		return err
	}
	for _, r := range [][2]string{{"token", *token}, {"type", *typ}, {"label", *label}} {
		if err := required(r[0], r[1]); err != nil {
			return err
		}
	}
	kt, err := pkcs11.ParseKeyType(*typ)
	if err != nil {
		return &usageError{"--type: " + err.Error()}
	}
	id, err := parseHexID(*idHex)
	if err != nil {
		return err
	}
	u, ks, err := c.p.GenerateKey(ctx, *token, c.config, kt, *label, id)
	if err != nil {
		return err
	}
	if c.json {
		return c.emitJSON(map[string]string{"uri": u.String(), "label": u.Object, "id": hexID(u.ID), "keySpec": ks})
	}
	fmt.Fprintln(c.stdout, u.String())
	return nil
}

// parseHexID parses --id: hex digits, optionally with colons, 1 to 64 bytes.
func parseHexID(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(s), "0x"), ":", ""))
	if err != nil || len(b) == 0 || len(b) > 64 {
		return nil, &usageError{fmt.Sprintf("--id %q: want 1 to 64 bytes in hex, e.g. 01 or 0a1b2c", s)}
	}
	return b, nil
}

func (c *cli) csr(ctx context.Context, args []string) error {
	fs, out := c.flags("csr")
	key := fs.String("key", "", "key URI")
	subject := fs.String("subject", "", `certificate subject, e.g. "C=US,ST=WA,O=Acme,CN=Release Signing"`)
	outFile := fs.String("out", "", "write the PEM request to this file (default: standard output)")
	if err := c.parse(fs, out, args, 0); err != nil {
		return err
	}
	for _, r := range [][2]string{{"key", *key}, {"subject", *subject}} {
		if err := required(r[0], r[1]); err != nil {
			return err
		}
	}
	name, err := pki.ParseSubject(*subject)
	if err != nil {
		return &usageError{"--subject: " + err.Error()}
	}
	der, ks, err := c.p.CreateCSR(ctx, *key, c.config, name)
	if err != nil {
		return err
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	if *outFile != "" {
		if err := os.WriteFile(*outFile, pemBytes, 0o644); err != nil {
			return fmt.Errorf("writing the request: %w", err)
		}
	}
	if c.json {
		return c.emitJSON(map[string]string{"subject": name.String(), "keySpec": ks, "identity": pki.SubjectIdentity(name), "csr": string(pemBytes), "file": *outFile})
	}
	if *outFile == "" {
		_, err = c.stdout.Write(pemBytes)
		return err
	}
	fmt.Fprintf(c.stdout, "wrote the %s request for %q to %s; give it to your CA\n", ks, name.String(), *outFile)
	return nil
}

// readCertFiles reads and parses PEM certificate files, naming the file in
// every error.
func readCertFiles(paths []string) ([]*x509.Certificate, error) {
	var all []*x509.Certificate
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if len(b) > maxPEMFile {
			return nil, fmt.Errorf("%s: larger than %d bytes", p, maxPEMFile)
		}
		certs, err := pki.ParseCertificates(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		all = append(all, certs...)
	}
	return all, nil
}

func (c *cli) certImport(ctx context.Context, args []string) error {
	fs, out := c.flags("cert import")
	key := fs.String("key", "", "key URI")
	if err := c.parse(fs, out, args, -1); err != nil {
		return err
	}
	if err := required("key", *key); err != nil {
		return err
	}
	certs, err := readCertFiles(fs.Args())
	if err != nil {
		return err
	}
	res, err := c.p.ImportCertificates(ctx, *key, c.config, certs)
	if err != nil {
		return err
	}
	if c.json {
		type certJSON struct {
			Subject  string `json:"subject"`
			SHA256   string `json:"sha256"`
			Imported bool   `json:"imported"`
		}
		list := make([]certJSON, len(res.Chain))
		for i, cert := range res.Chain {
			sum := sha256.Sum256(cert.Raw)
			list[i] = certJSON{cert.Subject.String(), hex.EncodeToString(sum[:]), contains(res.Imported, cert)}
		}
		return c.emitJSON(map[string]any{"chain": list})
	}
	for i, cert := range res.Chain {
		what := "already on the token"
		if contains(res.Imported, cert) {
			what = "imported"
		}
		role := "CA"
		if i == 0 {
			role = "signing certificate"
		}
		fmt.Fprintf(c.stdout, "%s %q: %s\n", role, cert.Subject.String(), what)
	}
	fmt.Fprintln(c.stdout, "the chain meets the Notary Project signing rules; check everything with notation-pkcs11 doctor --key URI")
	return nil
}

func contains(list []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range list {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

// Exit codes of cert lint.
const (
	lintOK     = 0 // no error finding (warnings may be printed)
	lintBroken = 1 // at least one rule notation enforces is broken
)

func (c *cli) certLint(_ context.Context, args []string) error {
	fs, out := c.flags("cert lint")
	if err := c.parse(fs, out, args, -1); err != nil {
		return err
	}
	certs, err := readCertFiles(fs.Args())
	if err != nil {
		return err
	}
	chain, findings := pki.LintCertificates(certs, time.Now())
	errorsFound := 0
	for _, f := range findings {
		if f.Severity == pki.SeverityError {
			errorsFound++
		}
	}
	if c.json {
		subjects := make([]string, len(chain))
		for i, cert := range chain {
			subjects[i] = cert.Subject.String()
		}
		if findings == nil {
			findings = []pki.Finding{}
		}
		if err := c.emitJSON(map[string]any{"ok": errorsFound == 0, "chain": subjects, "findings": findings}); err != nil {
			return err
		}
	} else {
		for i, cert := range chain {
			fmt.Fprintf(c.stdout, "chain[%d] %q\n", i, cert.Subject.String())
		}
		for _, f := range findings {
			fmt.Fprintf(c.stdout, "%s: %s\n", strings.ToUpper(string(f.Severity)), f.String())
		}
		if errorsFound == 0 {
			fmt.Fprintf(c.stdout, "ok: the chain meets the Notary Project signing rules (%d warning(s))\n", len(findings))
		} else {
			fmt.Fprintf(c.stdout, "%d rule(s) broken: notation would refuse this chain\n", errorsFound)
		}
	}
	if errorsFound > 0 {
		return &codeError{lintBroken}
	}
	return nil
}

// doctorExit maps the first failed check to doctor's exit code.
func doctorExit(check string) int {
	for i, name := range plugin.DoctorChecks() {
		if name == check {
			return 3 + i
		}
	}
	return exitFailed
}

func (c *cli) doctor(ctx context.Context, args []string) error {
	fs, out := c.flags("doctor")
	key := fs.String("key", "", "key URI")
	name := fs.String("name", "release", "key name for the printed notation key add command")
	store := fs.String("trust-store", "release", "trust store name for the printed trust policy")
	scope := fs.String("scope", "*", "registry scope for the printed trust policy")
	if err := c.parse(fs, out, args, 0); err != nil {
		return err
	}
	if err := required("key", *key); err != nil {
		return err
	}
	rep := c.p.Doctor(ctx, *key, c.config, plugin.DoctorOptions{KeyName: *name, TrustStore: *store, Scope: *scope})
	if c.json {
		if err := c.emitJSON(rep); err != nil {
			return err
		}
	} else {
		printDoctor(c.stdout, rep)
	}
	if !rep.OK {
		if !c.json {
			fmt.Fprintf(c.stderr, "notation-pkcs11 doctor: broken link: %s\n", rep.Failed)
		}
		return &codeError{doctorExit(rep.Failed)}
	}
	return nil
}

func printDoctor(w io.Writer, rep *plugin.DoctorReport) {
	for _, ch := range rep.Checks {
		mark := map[string]string{plugin.StatusOK: "ok  ", plugin.StatusWarn: "WARN", plugin.StatusFail: "FAIL"}[ch.Status]
		fmt.Fprintf(w, "[%s] %-17s %s\n", mark, ch.Name, ch.Detail)
		if ch.Fix != "" {
			fmt.Fprintf(w, "       %-17s fix: %s\n", "", ch.Fix)
		}
	}
	if !rep.OK {
		fmt.Fprintf(w, "\nbroken link: %s\n", rep.Failed)
		return
	}
	fmt.Fprintf(w, "\nThe key is ready to sign. Store it in notation:\n\n  %s\n\n", rep.KeyAddCommand)
	fmt.Fprintf(w, "Trust the root CA where you verify:\n\n  %s\n\n", rep.TrustStoreCommand)
	fmt.Fprintf(w, "and add this statement to trustpolicy.json's trustPolicies:\n\n")
	enc := jsonIndent(rep.TrustPolicy)
	fmt.Fprintf(w, "  %s\n", enc)
}

func jsonIndent(v any) string {
	b, err := marshalIndent(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
