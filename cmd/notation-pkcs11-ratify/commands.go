package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/ratifyverifier"
)

const (
	name    = "notation-pkcs11-ratify"
	version = "0.1.0"
	// versionSchema is the schema of `version --output json`.
	versionSchema = "notation-pkcs11/version/v1"
)

const rootLong = `A Ratify v1 external verifier: it verifies Notary Project signatures with
notation-pkcs11's trust-policy engine and revocation checker.

Ratify runs it without arguments, once per signature, with
RATIFY_VERIFIER_COMMAND=VERIFY, RATIFY_VERIFIER_SUBJECT and
RATIFY_VERIFIER_VERSION (1.0.0 or 0.1.0) in the environment and the request
as one JSON object on stdin. It then prints one line of JSON on stdout and
nothing on stderr. Install it as ` + name + ` in a folder listed in
verifier.pluginBinDirs of Ratify's config.json, and give the verifier entry
"type": "` + name + `" (see docs/ratify.md).

Exit status without arguments (as Ratify runs it):
  0  the verifier result is on stdout, whether or not the signature verified
     ("isSuccess")
  1  the request could not be served; Ratify's plugin error object
     {"code":N,"msg":"..."} is on stdout

Exit status with arguments (the commands below):
  0  success
  1  failure
  2  usage mistake: unknown command or flag`

const rootExample = `  # What Ratify does, by hand (the request is the JSON Ratify writes):
  RATIFY_VERIFIER_COMMAND=VERIFY RATIFY_VERIFIER_VERSION=1.0.0 \
  RATIFY_VERIFIER_SUBJECT=registry.example.com/app@sha256:... \
    ` + name + ` < request.json

  # The version, for a script:
  ` + name + ` version --output json`

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:     name,
		Short:   "Ratify v1 external verifier for Notary Project signatures",
		Long:    rootLong,
		Example: rootExample,
	}
	root.AddCommand(newVersion())
	return root
}

// versionDoc is `version --output json`.
type versionDoc struct {
	Schema  string `json:"schema"`
	Name    string `json:"name"`
	Version string `json:"version"`
	// RatifyProtocols are the RATIFY_VERIFIER_VERSION values served.
	RatifyProtocols []string `json:"ratifyProtocols"`
	GoVersion       string   `json:"goVersion"`
}

func newVersion() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version and the Ratify protocol versions served",
		Long: `Print the version and the Ratify plugin protocol versions served.

Exit status: 0; 2 on a usage mistake.`,
		Example: "  " + name + " version\n  " + name + " version --output json",
		Args:    cobra.NoArgs,
	}
	out := cli.OutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		doc := versionDoc{
			Schema:          versionSchema,
			Name:            name,
			Version:         version,
			RatifyProtocols: []string{ratifyverifier.Version100, ratifyverifier.Version010},
			GoVersion:       runtime.Version(),
		}
		if out.JSON() {
			return cli.WriteJSON(cmd.OutOrStdout(), doc)
		}
		_, err := fmt.Fprintf(cmd.OutOrStdout(), "%s %s (Ratify v1 external verifier, protocol %s and %s; verifies as notation-go v1.3.2)\n",
			name, version, ratifyverifier.Version100, ratifyverifier.Version010)
		return err
	}
	return cmd
}
