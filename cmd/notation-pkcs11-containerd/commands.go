package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/notation-pkcs11/notation-pkcs11/containerdverifier"
	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
)

const (
	name    = containerdverifier.CommandName
	version = "0.1.0"
	// Schemas of the --output json documents.
	versionSchema = "notation-pkcs11/version/v1"
	checkSchema   = "notation-pkcs11/containerd-check/v1"
)

const rootLong = `A containerd image verifier: containerd's bindir image verifier plugin runs
it before every pull, and it allows the pull only when the image's Notary
Project signature verifies under the node's trust policy, with revocation
checked against an on-disk cache that also works offline.

containerd runs it as
  ` + name + ` -name REF -digest DIGEST -stdin-media-type application/vnd.oci.descriptor.v1+json
with the image's descriptor on stdin. It verifies REPOSITORY@DIGEST (the
digest containerd gives, never a tag), prints the reason on stdout (the
first line is the summary with its fix; ctr shows it in its error) and
debug lines on stderr. Install it in the bin_dir of
[plugins."io.containerd.image-verifier.v1.bindir"] (see docs/containerd.md).

Its configuration is ` + containerdverifier.DefaultConfigPath + `, or the file
$` + containerdverifier.ConfigEnv + ` names in containerd's environment. It
refuses every pull while the configuration, trust policy or trust store is
not clean; 'check' shows why.

Exit status as containerd runs it:
  0  allowed: verified, or the matching policy statement has level skip
  1  refused: the image did not verify (no signature, failed, inconclusive,
     registry error)
  2  refused: bad arguments or descriptor on stdin
  3  refused: the configuration, trust policy, trust store or revocation
     cache is not clean
  4  refused: no answer within the configured timeout

Exit status of the commands below:
  0  success
  1  failure (check: a problem found)
  2  usage mistake: unknown command or flag, missing configuration file`

const rootExample = `  # What containerd does, by hand:
  echo '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:...","size":539}' |
    ` + name + ` -name registry.example.com/app:v1 -digest sha256:... \
      -stdin-media-type application/vnd.oci.descriptor.v1+json

  # Check the configuration as the verifier reads it:
  ` + name + ` check`

func newRoot(getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:     name,
		Short:   "containerd image verifier for Notary Project signatures",
		Long:    rootLong,
		Example: rootExample,
	}
	root.AddCommand(newCheck(getenv), newVersion())
	return root
}

// checkDoc is `check --output json`.
type checkDoc struct {
	Schema   string                       `json:"schema"`
	Config   string                       `json:"config"`
	Valid    bool                         `json:"valid"`
	Problems []containerdverifier.Problem `json:"problems"`
	// Fix is what repairs the problems.
	Fix string `json:"fix,omitempty"`
	// Settings are the configuration as read, when it is valid.
	Settings *containerdverifier.Config `json:"settings,omitempty"`
}

func newCheck(getenv func(string) string) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "check [flags]",
		Short: "Check the configuration, trust policy, trust store and revocation cache as the verifier does",
		Long: `Check reads the configuration exactly as the verifier does before every pull
and reports every problem: the configuration file (strict JSON, absolute
paths, loopback-only plain HTTP, timeouts), the files the verifier trusts
(owned by root or the effective user, not writable by group or others), the
trust policy and trust store (trustpolicy lint --strict: key warnings count)
and the revocation cache folder. While any problem remains, every pull is
refused.

Run it as the user containerd runs as (root), with containerd's
` + containerdverifier.ConfigEnv + ` if it sets one.

Exit status:
  0  clean: the verifier will verify pulls with this configuration
  1  problems found (each printed, with the fix)
  2  usage mistake, or the configuration file does not exist`,
		Example: "  " + name + " check\n  " + name + " check --config /etc/notation-pkcs11/containerd-verifier.json --output json",
		Args:    cobra.NoArgs,
	}
	cmd.Flags().StringVar(&file, "config", "", "configuration `file` (default $"+containerdverifier.ConfigEnv+", else "+containerdverifier.DefaultConfigPath+")")
	out := cli.OutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if file == "" {
			file = containerdverifier.ConfigPath(getenv)
		}
		return runCheck(cmd.OutOrStdout(), file, out)
	}
	return cmd
}

func runCheck(w io.Writer, file string, out *cli.Output) error {
	doc := checkDoc{Schema: checkSchema, Config: file, Problems: []containerdverifier.Problem{}}
	v, err := containerdverifier.Load(file, containerdverifier.Options{})
	if ce := (*containerdverifier.ConfigError)(nil); errors.As(err, &ce) && errors.Is(ce.Err, fs.ErrNotExist) {
		return &cli.UsageError{Err: fmt.Errorf("--config %s: the file does not exist (%w); write it (see docs/containerd.md)", textsafe.Escape(file), fs.ErrNotExist)}
	}
	if err == nil {
		doc.Valid = true
		cfg := v.Config()
		doc.Settings = &cfg
	} else {
		var le *containerdverifier.LintError
		if errors.As(err, &le) {
			doc.Problems = le.Problems
		} else {
			doc.Problems = []containerdverifier.Problem{{Source: "config", Message: err.Error()}}
		}
		var f cli.Fixer
		if errors.As(err, &f) {
			doc.Fix = f.Fix()
		}
	}
	if out.JSON() {
		if err := cli.WriteJSON(w, doc); err != nil {
			return err
		}
	} else if err := printCheck(w, doc); err != nil {
		return err
	}
	if !doc.Valid {
		return &cli.ExitError{Code: cli.ExitFailed}
	}
	return nil
}

// printCheck prints the result for people, every value escaped.
func printCheck(w io.Writer, doc checkDoc) error {
	esc := textsafe.Escape
	if doc.Valid {
		s := doc.Settings
		mode := "online"
		if s.Revocation.Offline {
			mode = "offline"
		}
		plain := "none"
		if len(s.Registry.PlainHTTP) > 0 {
			plain = fmt.Sprint(s.Registry.PlainHTTP)
		}
		_, err := fmt.Fprintf(w, "ok: %s: trust policy %s, trust store %s, revocation cache %s (%s), timeout %s, plain HTTP: %s\n",
			esc(doc.Config), esc(s.TrustPolicy), esc(s.TrustStore), esc(s.Revocation.CacheDir), mode, time.Duration(s.Timeout), esc(plain))
		return err
	}
	if _, err := fmt.Fprintf(w, "%s: %d problem(s); the verifier refuses every pull until they are fixed:\n", esc(doc.Config), len(doc.Problems)); err != nil {
		return err
	}
	for _, p := range doc.Problems {
		where := p.Source
		if p.Path != "" {
			where += " " + p.Path
		}
		if _, err := fmt.Fprintf(w, "  %s: %s\n", esc(where), esc(p.Message)); err != nil {
			return err
		}
	}
	if doc.Fix != "" {
		_, err := fmt.Fprintf(w, "fix: %s\n", esc(doc.Fix))
		return err
	}
	return nil
}

// versionDoc is `version --output json`.
type versionDoc struct {
	Schema    string `json:"schema"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	Protocol  string `json:"protocol"`
	GoVersion string `json:"goVersion"`
}

func newVersion() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Long: `Print the version and the containerd protocol served.

Exit status: 0; 2 on a usage mistake.`,
		Example: "  " + name + " version\n  " + name + " version --output json",
		Args:    cobra.NoArgs,
	}
	out := cli.OutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		doc := versionDoc{Schema: versionSchema, Name: name, Version: version,
			Protocol: "containerd bindir image verifier (containerd v2.0+)", GoVersion: runtime.Version()}
		if out.JSON() {
			return cli.WriteJSON(cmd.OutOrStdout(), doc)
		}
		_, err := fmt.Fprintf(cmd.OutOrStdout(), "%s %s (%s; verifies as notation-go v1.3.2)\n", name, version, doc.Protocol)
		return err
	}
	return cmd
}
