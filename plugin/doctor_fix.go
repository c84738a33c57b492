package plugin

import (
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/notation-pkcs11/notation-pkcs11/pki"
	"github.com/notation-pkcs11/notation-pkcs11/pki/pkcs11"
)

// This file holds Doctor's fixes: each one names the real path, URI or
// command of the failure at hand. A fix with a command carries it exactly
// as it is to be run.

// fix is what repairs a link: text for a person, and the one shell command
// that does it, when there is one.
type fix struct {
	text    string
	command string
}

// commandFix is a fix that is exactly one command.
func commandFix(c string) fix { return fix{text: c, command: c} }

// fixedError is an error that knows its fix.
type fixedError struct {
	err error
	fix fix
}

func (e *fixedError) Error() string { return e.err.Error() }
func (e *fixedError) Unwrap() error { return e.err }

func revocationFix(err error) fix {
	var fe *fixedError
	if errors.As(err, &fe) {
		return fe.fix
	}
	return fix{text: "make the OCSP responders and CRL distribution points of the chain reachable from this host over http, then run doctor again"}
}

func orUnknown(url string) string {
	if url == "" {
		return "the chain's OCSP responder or CRL distribution point"
	}
	return url
}

// configFix: the key URI or pluginConfig did not parse.
func configFix(err error) fix {
	if errors.Is(err, pkcs11.ErrInvalidURI) {
		return fix{text: "correct the key URI as the message says; its form is pkcs11:token=TOKEN-LABEL;object=KEY-LABEL (RFC 7512), the PIN from ?pin-source=file:/absolute/path or " + pkcs11.PINEnv}
	}
	return fix{text: "correct pluginConfig (--plugin-config KEY=VALUE) as the message says"}
}

// moduleSource says where the module path came from, for the fix.
func moduleSource(r keyRequest) string {
	switch {
	case r.uri.ModulePath != "":
		return "module-path= in the key URI"
	case r.cfg.ModulePath != "":
		return "pluginConfig " + ConfigModulePath
	}
	return ModuleEnv
}

func moduleFix(r keyRequest) fix {
	if _, err := os.Stat(r.module); errors.Is(err, fs.ErrNotExist) {
		return fix{text: "there is no file " + r.module + ": install the HSM vendor's PKCS#11 module (SoftHSM: apt-get install softhsm2), or name the installed one in " + moduleSource(r)}
	}
	return fix{text: r.module + " does not load or initialise as a PKCS#11 module: check that it is the vendor's PKCS#11 library for this machine and that its own configuration is readable (SoftHSM: SOFTHSM2_CONF), or name another module in " + moduleSource(r)}
}

func tokenFix(err error, r keyRequest) fix {
	list := "notation-pkcs11 token list --plugin-config " + shellQuote(ConfigModulePath+"="+r.module)
	if errors.Is(err, pkcs11.ErrAmbiguous) {
		return fix{text: "name one token: add the serial= or slot-id= that " + list + " shows to the key URI"}
	}
	return fix{text: "put a token that " + list + " shows into token= (or serial=, slot-id=) of the key URI, or initialise the token"}
}

// pinFix: no PIN, or an unusable pin-source file. A file error that knows
// its command (chmod 600 FILE, chown) gives it.
func pinFix(err error, u *pkcs11.URI) fix {
	var fixer interface{ Fix() string }
	if errors.As(err, &fixer) && fixer.Fix() != "" {
		return commandFix(fixer.Fix())
	}
	if errors.Is(err, pkcs11.ErrPINSource) {
		return fix{text: "make " + u.PINSource + " a regular file (not a link or FIFO) that you own, mode 0600, holding only the token's user PIN"}
	}
	return fix{text: "add ?pin-source=file:/absolute/path to the key URI (a file you own, mode 0600, holding only the user PIN), or set " + pkcs11.PINEnv}
}

// loginFix: the token refused the PIN.
func loginFix(u *pkcs11.URI) fix {
	if u.PINSource != "" {
		return fix{text: "write the token's user PIN into " + u.PINSource + " (the token refused the one it holds; repeated failures lock the user PIN)"}
	}
	return fix{text: "set " + pkcs11.PINEnv + " to the token's user PIN (the token refused it; repeated failures lock the user PIN)"}
}

// keyFix: no key, or more than one, matches. Creating the key is a command
// when the URI names its label.
func keyFix(err error, r keyRequest, pluginConfig map[string]string) fix {
	tok := shellQuote(tokenURI(r.uri).String())
	list := "notation-pkcs11 key list --token " + tok + configArgs(pluginConfig)
	if errors.Is(err, pkcs11.ErrAmbiguous) {
		return fix{text: "add the id= of one key to the key URI (" + list + " shows their ids)"}
	}
	if r.uri.Object == "" {
		return fix{text: "correct id= in the key URI (" + list + " shows the keys), or create a key with notation-pkcs11 key generate"}
	}
	gen := "notation-pkcs11 key generate --token " + tok + " --type ec-256 --label " + shellQuote(r.uri.Object)
	if len(r.uri.ID) > 0 {
		gen += " --id " + hex.EncodeToString(r.uri.ID)
	}
	gen += configArgs(pluginConfig)
	return fix{text: "correct object=/id= in the key URI (" + list + " shows the keys), or create the key: " + gen, command: gen}
}

// tokenURI is the token part of a key URI, with its query.
func tokenURI(u *pkcs11.URI) *pkcs11.URI {
	t := *u
	t.Object, t.ID, t.Type = "", nil, ""
	return &t
}

// configArgs renders pluginConfig as --plugin-config options, sorted.
func configArgs(pluginConfig map[string]string) string {
	keys := make([]string, 0, len(pluginConfig))
	for k := range pluginConfig {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(" --plugin-config " + shellQuote(k+"="+pluginConfig[k]))
	}
	return b.String()
}

func certificateFix(r keyRequest) fix {
	key := shellQuote(r.uri.String())
	return fix{text: "make a request with your subject: notation-pkcs11 csr --key " + key +
		" --subject 'C=US,ST=WA,O=Acme,CN=Release Signing' --out key.csr; have your CA issue it (profile in docs/pki-workflow.md); store the chain: notation-pkcs11 cert import --key " + key + " chain.pem"}
}

func matchFix(r keyRequest) fix {
	if r.cfg.CertificateChain != "" {
		return fix{text: "point pluginConfig certificate_chain at the chain issued for this key's csr: " + r.cfg.CertificateChain + " holds no certificate for it"}
	}
	return fix{text: "the certificate stored with the key's CKA_ID is another key's: import the one issued from this key's csr with notation-pkcs11 cert import --key " + shellQuote(r.uri.String()) + " FILE (it checks the key)"}
}

func incompleteFix(r keyRequest) fix {
	if r.cfg.CertificateChain != "" {
		return fix{text: "add the issuer the message names, and the CA certificates above it up to the root, to " + r.cfg.CertificateChain}
	}
	return fix{text: "store the issuer the message names and the CA certificates above it: notation-pkcs11 cert import --key " + shellQuote(r.uri.String()) + " issuer.pem root.pem"}
}

// ruleFix lists the fixes of the broken rules.
func ruleFix(err error, r keyRequest) fix {
	var ce *pki.ChainError
	if !errors.As(err, &ce) {
		return fix{text: "have the CA reissue the certificate with the profile in docs/pki-workflow.md, then import it"}
	}
	var parts []string
	seen := map[string]bool{}
	for _, f := range ce.Findings {
		if !seen[f.Fix] {
			seen[f.Fix] = true
			parts = append(parts, f.Fix)
		}
	}
	return fix{text: strings.Join(parts, "; ") + "; then import the new certificate: notation-pkcs11 cert import --key " + shellQuote(r.uri.String()) + " FILE"}
}
