package main

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/plugin"
)

const doctorLong = `Walk every link from the key URI to a signature notation accepts, in order,
and stop at the first broken one, printing what is wrong and its fix (a command
to run, with the real path, when one command repairs it). The checks are the
plugin's own: a key doctor passes is a key notation sign can use.

On success it prints the notation key add command, the notation cert add
command for the root, and a complete trustpolicy.json whose one statement (name
--name, registryScopes [--scope], level strict, trustStores ["ca:--trust-store"])
trusts exactly the signing certificate's x509.subject identity, written the way
the verifier reads it. --name, --scope and --trust-store are checked with the
trust policy linter first. --root-out FILE writes the root certificate (PEM,
mode 0644); a FILE that holds anything else is left alone unless --force.

Exit codes, one per link, the first broken one:
   3 config             the key URI and --plugin-config parse
   4 module             the PKCS#11 module loads and initialises
   5 token              exactly one token matches the URI
   6 pin                a PIN source exists (a pin-source file you own, mode 0600)
                        and the token accepts the PIN
   7 key                exactly one private key matches, of a type Notation signs with
   8 certificate        a certificate is stored for the key (or in certificate_chain)
   9 certificate-match  it holds the key's public key
  10 chain              the chain to a root is complete and meets the rules now
  11 expiry             (warns only) a certificate expires within 30 days
  12 revocation         the OCSP/CRL endpoints answer and nothing is revoked
Exit 0: every link holds (warnings allowed). Exit 2: usage error (a bad flag,
a --root-out folder that does not exist, a --root-out file that holds something
else). Exit 1: --root-out could not be written.`

// doctorExit maps the first failed check to doctor's exit code.
func doctorExit(check string) int {
	for i, name := range plugin.DoctorChecks() {
		if name == check {
			return 3 + i
		}
	}
	return cli.ExitFailed
}

// brokenLinkError ends a text doctor run whose report is printed: one
// error line, the link's exit code.
type brokenLinkError struct{ check string }

func (e *brokenLinkError) Error() string {
	return fmt.Sprintf("broken link: %s (exit %d; the fix is printed with the check)", e.check, doctorExit(e.check))
}
func (e *brokenLinkError) ExitCode() int { return doctorExit(e.check) }

// flagOf names the doctor flag of a DoctorOptions field.
func flagOf(option string) string {
	switch option {
	case "KeyName":
		return "--name"
	case "TrustStore":
		return "--trust-store"
	case "Scope":
		return "--scope"
	}
	return ""
}

func (a *app) doctorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "doctor --key URI",
		Short: "check every link from the key to a verified signature",
		Long:  doctorLong,
		Example: `  notation-pkcs11 doctor --key 'pkcs11:token=release;object=release-2026'
  notation-pkcs11 doctor --key "$KEY" --name release --trust-store acme \
      --scope registry.example.com/app --root-out acme-root.pem
  notation-pkcs11 doctor --key "$KEY" --output json`,
		Args: cobra.NoArgs,
	}
	out := cli.OutputFlag(cmd)
	cfg := addConfigFlag(cmd)
	key := cmd.Flags().String("key", "", "key `URI` (required)")
	name := cmd.Flags().String("name", plugin.DefaultKeyName, "`NAME` for notation key add, and the trust policy statement's name")
	store := cmd.Flags().String("trust-store", plugin.DefaultTrustStore, "trust `STORE` (type ca) of the printed trust policy")
	scope := cmd.Flags().String("scope", plugin.DefaultScope, "registry `SCOPE` of the printed trust policy, e.g. registry.example.com/app")
	rootOut := cmd.Flags().String("root-out", "", "write the chain's root certificate (PEM) to `FILE`")
	force := cmd.Flags().Bool("force", false, "with --root-out: replace a file that holds something else")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := required("key", *key); err != nil {
			return err
		}
		o := plugin.DoctorOptions{KeyName: *name, TrustStore: *store, Scope: *scope, RootFile: *rootOut}
		if err := o.Validate(); err != nil {
			var oe *plugin.DoctorOptionError
			if errors.As(err, &oe) && flagOf(oe.Option) != "" {
				return cli.Usagef("%s %q: %s", flagOf(oe.Option), oe.Value, oe.Msg)
			}
			return &cli.UsageError{Err: err}
		}
		if err := checkOutDir("root-out", *rootOut); err != nil {
			return err
		}
		config, err := cfg.m()
		if err != nil {
			return err
		}
		rep := a.plugin().Doctor(a.ctx, *key, config, o)
		var rootErr error
		if rep.OK && *rootOut != "" {
			rootErr = writeRoot(*rootOut, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rep.Root.Raw}), *force)
		}
		w := cmd.OutOrStdout()
		if out.JSON() {
			if rootErr != nil {
				return rootErr // the error document instead of the report
			}
			if err := cli.WriteJSON(w, struct {
				Schema string `json:"schema"`
				*plugin.DoctorReport
			}{schemaDoctor, rep}); err != nil {
				return err
			}
			if !rep.OK {
				return &cli.ExitError{Code: doctorExit(rep.Failed)}
			}
			return nil
		}
		if err := printDoctor(w, rep); err != nil {
			return err
		}
		if rootErr != nil {
			return rootErr
		}
		if !rep.OK {
			return &brokenLinkError{rep.Failed}
		}
		return nil
	}
	return cmd
}

// writeRoot writes the root certificate to path, mode 0644. A file that
// already holds exactly these bytes is left as it is; one that holds
// anything else is replaced only with force (a usage error without).
func writeRoot(path string, pemBytes []byte, force bool) error {
	old, err := os.ReadFile(path)
	switch {
	case err == nil && bytes.Equal(old, pemBytes):
		return nil
	case err == nil && !force:
		return cli.Usagef("--root-out %s: the file exists and holds something else; choose another file, or add --force to replace it", path)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("--root-out %s: %w", path, unwrapPath(err))
	}
	// Write a temporary file beside it and rename it into place, so a
	// reader never sees half a certificate.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".root-*.pem")
	if err != nil {
		return fmt.Errorf("--root-out %s: %w", path, unwrapPath(err))
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(pemBytes); err != nil {
		tmp.Close()
		return fmt.Errorf("--root-out %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("--root-out %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("--root-out %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("--root-out %s: %w", path, unwrapPath(err))
	}
	return nil
}

// printDoctor prints the checks, each fix under its check, and for a
// healthy key the commands and trust policy. The broken link itself is
// named once, by the error line.
func printDoctor(w io.Writer, rep *plugin.DoctorReport) error {
	for _, ch := range rep.Checks {
		mark := map[string]string{plugin.StatusOK: "ok  ", plugin.StatusWarn: "WARN", plugin.StatusFail: "FAIL"}[ch.Status]
		fmt.Fprintf(w, "[%s] %-17s %s\n", mark, ch.Name, textsafe.Escape(ch.Detail))
		if ch.Fix != "" {
			fmt.Fprintf(w, "       %-17s fix: %s\n", "", textsafe.Escape(ch.Fix))
		}
		if ch.Command != "" && ch.Command != ch.Fix {
			fmt.Fprintf(w, "       %-17s run: %s\n", "", textsafe.Escape(ch.Command))
		}
	}
	if !rep.OK {
		return nil
	}
	fmt.Fprintf(w, "\nThe key is ready to sign. Store it in notation:\n\n  %s\n\n", textsafe.Escape(rep.KeyAddCommand))
	fmt.Fprintf(w, "Trust the root CA %s (SHA-256 %s) where you verify:\n\n  %s\n\n", quote(rep.RootSubject), rep.RootSHA256, textsafe.Escape(rep.TrustStoreCommand))
	if rep.TrustPolicy == nil {
		_, err := fmt.Fprintf(w, "No trust policy: %s\n", textsafe.Escape(rep.IdentityProblem))
		return err
	}
	fmt.Fprintf(w, "and use this trustpolicy.json (or add its statement to yours):\n\n")
	return cli.WriteJSON(w, rep.TrustPolicy)
}
