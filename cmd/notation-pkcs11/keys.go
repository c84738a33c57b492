package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// The token and key commands: thin wrappers over plugin's admin operations.
// Every string from the module or the token is escaped in text output.

const tokenListLong = `List the slots of the PKCS#11 module and their tokens: label, serial,
manufacturer, model, and whether a slot is free (uninitialised), initialised or
has its user PIN locked. No login.

The module is --plugin-config module_path=, else NOTATION_PKCS11_MODULE.

Exit codes: 0 listed; 1 the module cannot be loaded; 2 usage error.`

func (a *app) tokenListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "list the module's slots and tokens",
		Long:  tokenListLong,
		Example: `  notation-pkcs11 token list --plugin-config module_path=/usr/lib/softhsm/libsofthsm2.so
  NOTATION_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so notation-pkcs11 token list --output json`,
		Args: cobra.NoArgs,
	}
	out := cli.OutputFlag(cmd)
	cfg := addConfigFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		config, err := cfg.m()
		if err != nil {
			return err
		}
		tokens, mod, err := a.plugin().ListTokens(a.ctx, config)
		if err != nil {
			return err
		}
		if out.JSON() {
			if tokens == nil {
				tokens = []pkcs11.TokenInfo{}
			}
			return cli.WriteJSON(cmd.OutOrStdout(), map[string]any{"schema": schemaTokenList, "module": mod, "tokens": tokens})
		}
		w := cmd.OutOrStdout()
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
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
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.Slot, cell(t.Label), cell(t.Serial), cell(t.Manufacturer), cell(t.Model), state)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "module %s\n", textsafe.Escape(mod))
		return err
	}
	return cmd
}

// cell escapes a table cell; an empty one shows as "-".
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return textsafe.Escape(s)
}

type keyJSON struct {
	URI          string   `json:"uri"`
	Label        string   `json:"label"`
	ID           string   `json:"id"`
	KeySpec      string   `json:"keySpec"`
	Certificates []string `json:"certificates"`
}

const keyListLong = `List the key pairs on a token, read from their public-key objects (no login):
label, CKA_ID, type, the certificates stored with the key, and its key URI.
A key Notation cannot sign with shows type "unsupported".

Exit codes: 0 listed; 1 the module, token or listing failed; 2 usage error.`

func (a *app) keyListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list --token URI",
		Short:   "list the keys on a token",
		Long:    keyListLong,
		Example: `  notation-pkcs11 key list --token pkcs11:token=release`,
		Args:    cobra.NoArgs,
	}
	out := cli.OutputFlag(cmd)
	cfg := addConfigFlag(cmd)
	token := cmd.Flags().String("token", "", "token `URI`, e.g. pkcs11:token=release (required)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := required("token", *token); err != nil {
			return err
		}
		config, err := cfg.m()
		if err != nil {
			return err
		}
		keys, info, err := a.plugin().ListKeys(a.ctx, *token, config)
		if err != nil {
			return err
		}
		list := make([]keyJSON, len(keys))
		for i, k := range keys {
			list[i] = keyJSON{URI: k.URI.String(), Label: k.Label, ID: hex.EncodeToString(k.ID), KeySpec: k.KeySpec, Certificates: []string{}}
			if k.KeySpec == "" {
				list[i].KeySpec = "unsupported"
			}
			for _, c := range k.Certificates {
				list[i].Certificates = append(list[i].Certificates, c.Subject.String())
			}
		}
		w := cmd.OutOrStdout()
		if out.JSON() {
			return cli.WriteJSON(w, map[string]any{"schema": schemaKeyList, "token": info.Label, "keys": list})
		}
		if len(list) == 0 {
			_, err := fmt.Fprintf(w, "no keys on token %s (create one with notation-pkcs11 key generate)\n", quote(info.Label))
			return err
		}
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "LABEL\tID\tTYPE\tCERTIFICATE\tURI\n")
		for _, k := range list {
			certs := "none"
			if len(k.Certificates) > 0 {
				certs = strings.Join(k.Certificates, "; ")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cell(k.Label), k.ID, k.KeySpec, textsafe.Escape(certs), textsafe.Escape(k.URI))
		}
		return tw.Flush()
	}
	return cmd
}

const keyGenerateLong = `Generate a key pair inside the token. The private key is a token object,
sensitive, never extractable, and usable only to sign. Without --id the
CKA_ID is 8 random bytes. A label or id that a key on the token already has is
refused, naming that key. Prints the new key's URI.

TYPE: rsa-2048, rsa-3072, rsa-4096, ec-256, ec-384 or ec-521.

Exit codes: 0 generated; 1 the token refused (a key with that label or id
exists, wrong PIN, ...); 2 usage error.`

func (a *app) keyGenerateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "generate --token URI --type TYPE --label NAME [--id HEX]",
		Short: "generate a key pair on a token",
		Long:  keyGenerateLong,
		Example: `  notation-pkcs11 key generate --token 'pkcs11:token=release?pin-source=file:/home/me/.pin' \
      --type ec-256 --label release-2026
  NOTATION_PKCS11_PIN=... notation-pkcs11 key generate --token pkcs11:token=release --type rsa-3072 --label ci --id 0a1b`,
		Args: cobra.NoArgs,
	}
	out := cli.OutputFlag(cmd)
	cfg := addConfigFlag(cmd)
	token := cmd.Flags().String("token", "", "token `URI`, e.g. pkcs11:token=release (required)")
	typ := cmd.Flags().String("type", "", "key `TYPE`: rsa-2048, rsa-3072, rsa-4096, ec-256, ec-384 or ec-521 (required)")
	label := cmd.Flags().String("label", "", "the key's `LABEL` (CKA_LABEL) (required)")
	idHex := cmd.Flags().String("id", "", "the key's CKA_ID in `HEX` (default: 8 random bytes)")
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions([]string{"rsa-2048", "rsa-3072", "rsa-4096", "ec-256", "ec-384", "ec-521"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		for _, r := range [][2]string{{"token", *token}, {"type", *typ}, {"label", *label}} {
			if err := required(r[0], r[1]); err != nil {
				return err
			}
		}
		kt, err := pkcs11.ParseKeyType(*typ)
		if err != nil {
			return &cli.UsageError{Err: fmt.Errorf("--type: %w", err)}
		}
		id, err := parseHexID(*idHex)
		if err != nil {
			return err
		}
		config, err := cfg.m()
		if err != nil {
			return err
		}
		u, ks, err := a.plugin().GenerateKey(a.ctx, *token, config, kt, *label, id)
		if err != nil {
			return keyExists(err)
		}
		if out.JSON() {
			return cli.WriteJSON(cmd.OutOrStdout(), map[string]string{"schema": schemaKeyGenerate, "uri": u.String(), "label": u.Object, "id": hex.EncodeToString(u.ID), "keySpec": ks})
		}
		_, err = fmt.Fprintln(cmd.OutOrStdout(), textsafe.Escape(u.String()))
		return err
	}
	return cmd
}

// keyExists gives a label or id collision its fix. The error itself
// (pkcs11.KeyExistsError) names the existing key: its label, id and URI.
func keyExists(err error) error {
	var ke *pkcs11.KeyExistsError
	if errors.As(err, &ke) && ke.URI != nil {
		return &cli.FixError{Err: err, FixMsg: "run key generate with another --label and --id, or use the existing key: notation-pkcs11 doctor --key " + shellQuote(ke.URI.String())}
	}
	return err
}

// parseHexID parses --id: hex digits, optionally with colons or a 0x
// prefix, 1 to 64 bytes.
func parseHexID(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(s), "0x"), ":", ""))
	if err != nil || len(b) == 0 || len(b) > 64 {
		return nil, cli.Usagef("--id %q: want 1 to 64 bytes in hex, e.g. 01 or 0a1b2c", s)
	}
	return b, nil
}
