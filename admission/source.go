package admission

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/notation-pkcs11/notation-pkcs11/revocation"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

// dataLink is the symlink a Kubernetes ConfigMap, Secret or projected
// volume swaps to update its files atomically: MOUNT/..data points to a
// sibling folder MOUNT/..YYYY_MM_DD_hh_mm_ss.NNN that holds the real files,
// and every MOUNT/KEY is a symlink to ..data/KEY.
const dataLink = "..data"

// maxLoadAttempts bounds the retries of a load that raced a ..data swap.
const maxLoadAttempts = 3

// maxStampEntries bounds the files the change detector looks at.
const maxStampEntries = 10000

// ErrConfig is wrapped by every *ConfigError.
var ErrConfig = errors.New("trust policy or trust store not usable")

// ConfigError is a policy or trust store that does not load or does not
// lint clean. The server keeps serving the previous generation, if any,
// and reports not ready.
type ConfigError struct {
	// Problems are every problem found, each naming its file (and JSON
	// path or certificate subject).
	Problems []string
	// Command is the command that shows them all (Fix returns it).
	Command string
}

func (e *ConfigError) Error() string {
	const shown = 3
	msg := strings.Join(e.Problems[:min(len(e.Problems), shown)], "; ")
	if n := len(e.Problems) - shown; n > 0 {
		msg += fmt.Sprintf("; and %d more", n)
	}
	return msg
}

// Fix is the command that lists every problem (cli.Fixer).
func (e *ConfigError) Fix() string { return e.Command }

// Is makes errors.Is(err, ErrConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrConfig }

// resolved is where one load reads from: the configured paths, with a
// Kubernetes volume's ..data link replaced by the folder it points to.
type resolved struct {
	policy, store string
	// links are the ..data links followed and their targets, to detect a
	// swap during the load.
	links map[string]string
}

// resolve resolves p's ..data links. The policy file PATH is read from
// DIR/TARGET/NAME when DIR/..data links to TARGET and PATH links to
// ..data/NAME; the trust store folder ROOT is read as ROOT/TARGET when
// ROOT/..data links to TARGET. TARGET must be one path element starting
// with ".." (never ".." itself) and a real folder, as the kubelet makes
// it. Nothing else is followed, so inside the folder read every rule of
// trustpolicy and truststore (no symlinked policy file, no symlink in a
// store) applies unchanged.
func resolve(p trustpolicy.Paths) (resolved, error) {
	r := resolved{policy: p.Policy, store: p.TrustStore, links: map[string]string{}}
	dir, name := filepath.Split(p.Policy)
	target, ok, err := dataTarget(filepath.Clean(dir))
	if err != nil {
		return r, err
	}
	if ok {
		if link, err := os.Readlink(p.Policy); err == nil && link == filepath.Join(dataLink, name) {
			r.policy = filepath.Join(dir, target, name)
			r.links[filepath.Join(dir, dataLink)] = target
		}
	}
	target, ok, err = dataTarget(p.TrustStore)
	if err != nil {
		return r, err
	}
	if ok {
		r.store = filepath.Join(p.TrustStore, target)
		r.links[filepath.Join(p.TrustStore, dataLink)] = target
	}
	return r, nil
}

// dataTarget returns the target of dir/..data when it is a Kubernetes
// volume's link.
func dataTarget(dir string) (string, bool, error) {
	link := filepath.Join(dir, dataLink)
	fi, err := os.Lstat(link)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("%s: %w", link, err)
	case fi.Mode()&fs.ModeSymlink == 0:
		return "", false, fmt.Errorf("%s is not a symlink; a Kubernetes volume's %s links to the folder that holds the files", link, dataLink)
	}
	target, err := os.Readlink(link)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", link, err)
	}
	if !strings.HasPrefix(target, "..") || target == ".." || strings.ContainsAny(target, `/\`) {
		return "", false, fmt.Errorf("%s links to %q; the kubelet links it to a sibling folder named ..TIMESTAMP, and nothing else is followed", link, target)
	}
	fi, err = os.Lstat(filepath.Join(dir, target))
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", link, err)
	}
	if !fi.IsDir() {
		return "", false, fmt.Errorf("%s links to %q, which is not a folder", link, target)
	}
	return target, true, nil
}

// unchanged reports whether every link still has the target it had.
func (r resolved) unchanged() bool {
	for link, target := range r.links {
		if t, err := os.Readlink(link); err != nil || t != target {
			return false
		}
	}
	return true
}

// generation is one loaded policy and set of trust stores.
type generation struct {
	n      uint64
	engine *trustpolicy.Engine
	svc    *service.Service
	from   resolved
	stamp  string
	// warnings are the policy's key warnings (keys notation ignores).
	warnings []string
}

// loadOptions are the settings of a load.
type loadOptions struct {
	paths  trustpolicy.Paths
	rev    revocation.Checker
	strict bool
}

// load reads, lints and compiles the policy and trust stores. A load that
// races a ..data swap is retried.
func load(o loadOptions) (*generation, error) {
	for attempt := 1; ; attempt++ {
		r, err := resolve(o.paths)
		if err != nil {
			return nil, &ConfigError{Problems: []string{err.Error()}}
		}
		stamp := stampOf(r)
		g, err := loadFrom(r, o)
		if r.unchanged() && stamp == stampOf(r) {
			if g != nil {
				g.stamp = stamp
			}
			return g, err
		}
		if attempt == maxLoadAttempts {
			return nil, &ConfigError{Problems: []string{fmt.Sprintf("the files changed during %d loads in a row", maxLoadAttempts)}}
		}
	}
}

// loadFrom loads r once.
func loadFrom(r resolved, o loadOptions) (*generation, error) {
	fix := fmt.Sprintf("trustpolicy lint --policy %s --truststore %s", shellQuote(r.policy), shellQuote(r.store))
	doc, keys, err := trustpolicy.LintFile(r.policy)
	if err != nil {
		// Missing, unreadable or not JSON: the message says what to do.
		return nil, &ConfigError{Problems: []string{err.Error()}}
	}
	var problems, warnings []string
	for _, k := range keys {
		msg := fmt.Sprintf("%s: %s", r.policy, k.Error())
		if o.strict {
			problems = append(problems, msg)
		} else {
			warnings = append(warnings, msg)
		}
	}
	for _, p := range trustpolicy.Lint(doc) {
		problems = append(problems, fmt.Sprintf("%s: %s", r.policy, p.Error()))
	}
	if len(problems) > 0 {
		return nil, &ConfigError{Problems: problems, Command: fix}
	}
	pol, err := trustpolicy.Compile(doc)
	if err != nil {
		return nil, &ConfigError{Problems: []string{fmt.Sprintf("%s: %v", r.policy, err)}, Command: fix}
	}
	refs := pol.StoreRefs()
	for _, p := range truststore.Lint(r.store, refs) {
		problems = append(problems, p.Error())
	}
	if len(problems) > 0 {
		return nil, &ConfigError{Problems: problems, Command: fix}
	}
	engine, err := trustpolicy.New(trustpolicy.Config{Policy: pol, Stores: truststore.Load(r.store, refs), Revocation: o.rev})
	if err != nil {
		return nil, &ConfigError{Problems: []string{err.Error()}}
	}
	return &generation{engine: engine, from: r, warnings: warnings}, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// stampOf is a cheap fingerprint of what a load reads: the ..data targets,
// and name, size, modification time and inode of the policy file and of
// every entry of the trust store layout (ROOT/x509/TYPE/NAME/FILE). A
// change of any of them makes the watcher reload.
func stampOf(r resolved) string {
	h := sha256.New()
	for _, l := range sortedKeys(r.links) {
		fmt.Fprintf(h, "link %s %s\n", l, r.links[l])
	}
	n := 0
	stat := func(p string) {
		n++
		fi, err := os.Lstat(p)
		if err != nil {
			fmt.Fprintf(h, "%s error %v\n", p, err)
			return
		}
		fmt.Fprintf(h, "%s %v %d %d %d\n", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano(), inode(fi))
	}
	stat(r.policy)
	x509 := filepath.Join(r.store, "x509")
	stat(x509)
	types, _ := os.ReadDir(x509)
	for _, t := range types {
		tdir := filepath.Join(x509, t.Name())
		stat(tdir)
		stores, _ := os.ReadDir(tdir)
		for _, s := range stores {
			sdir := filepath.Join(tdir, s.Name())
			stat(sdir)
			files, _ := os.ReadDir(sdir)
			for _, f := range files {
				if n >= maxStampEntries {
					fmt.Fprintf(h, "truncated\n")
					return hex.EncodeToString(h.Sum(nil))
				}
				stat(filepath.Join(sdir, f.Name()))
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
