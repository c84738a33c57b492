package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/notation-pkcs11/notation-pkcs11/internal/cli"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/service/bulk"
)

// artifactFlags name the artifacts of bulk verify and diff, and how to reach
// them.
type artifactFlags struct {
	from        string
	allTags     []string
	jobs        int
	perRegistry int
	platforms   string
}

// defaultPerRegistry bounds the artifacts verified at once against one
// registry host.
const defaultPerRegistry = 8

// register adds the flags that name many artifacts.
func (f *artifactFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.from, "from", "", "read references from `FILE`, one per line (- for stdin; blank lines and # comments are skipped)")
	fs.StringArrayVar(&f.allTags, "all-tags", nil, "verify every tag of `REGISTRY/REPO` (or of oci-layout:PATH); repeatable")
	fs.IntVar(&f.jobs, "jobs", runtime.NumCPU(), "verify `N` artifacts at once")
	fs.IntVar(&f.perRegistry, "per-registry", defaultPerRegistry, "verify at most `N` artifacts of one registry host at once")
	fs.StringVar(&f.platforms, "platforms", "", "for an image index or manifest list, also check each platform manifest: all, or `os/arch[/variant],...`")
}

// many reports whether the flags name artifacts besides REF arguments.
func (f *artifactFlags) many() bool { return f.from != "" || len(f.allTags) > 0 }

// check validates the flags; platforms is nil when --platforms is unset.
func (f *artifactFlags) check() (*bulk.Platforms, error) {
	switch {
	case f.jobs < 1:
		return nil, cli.Usagef("--jobs must be at least 1, not %d", f.jobs)
	case f.perRegistry < 1:
		return nil, cli.Usagef("--per-registry must be at least 1, not %d", f.perRegistry)
	case f.platforms == "":
		return nil, nil
	}
	p, err := bulk.ParsePlatforms(f.platforms)
	if err != nil {
		return nil, cli.Usagef("--platforms: %v", err)
	}
	return p, nil
}

// checkReference checks ref without any network: a registry reference
// with a tag or digest, or oci-layout:PATH with a tag or digest (which
// needs scope).
func checkReference(ref, scope string) error {
	if !registry.IsLayoutReference(ref) {
		_, err := registry.ParseReference(ref)
		return err
	}
	lr, err := registry.ParseLayoutReference(ref)
	if err != nil {
		return err
	}
	if lr.Tag == "" && lr.Digest == "" {
		return fmt.Errorf("%w: %q names no tag or digest inside the layout; want oci-layout:PATH:TAG or oci-layout:PATH@DIGEST (or --all-tags oci-layout:PATH)", registry.ErrInvalidLayout, ref)
	}
	if scope == "" {
		return errNoScope
	}
	return nil
}

// errNoScope: a layout without --scope.
var errNoScope = errors.New("an OCI layout needs --scope REGISTRY/REPO, the trust policy scope to verify it under (as notation verify --oci-layout --scope)")

// gatherListed collects the artifacts named without any network: REF
// arguments, then --from. Bad input is a usage error naming the argument,
// or the file and line.
func gatherListed(e env, f *artifactFlags, scope string, pos []string) ([]bulk.Input, error) {
	var inputs []bulk.Input
	for i, ref := range pos {
		if err := checkReference(ref, scope); err != nil {
			return nil, cli.Usagef("argument %d %q: %w", i+1, ref, err)
		}
		inputs = append(inputs, bulk.Input{Reference: ref, Source: fmt.Sprintf("argument %d", i+1)})
	}
	if f.from != "" {
		list, err := readFrom(e, f.from, scope)
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, list...)
	}
	return inputs, nil
}

// gatherTags adds the tags of every --all-tags repository to inputs (each
// tag is resolved once, later).
func gatherTags(ctx context.Context, f *artifactFlags, scope string, inputs []bulk.Input, src *sources) ([]bulk.Input, error) {
	for _, repo := range f.allTags {
		tags, err := src.tags(ctx, repo, scope)
		if err != nil {
			return nil, err
		}
		for _, tag := range tags {
			inputs = append(inputs, bulk.Input{Reference: repo + ":" + tag, Source: "tag " + tag + " of " + repo})
		}
	}
	if len(inputs) == 0 {
		return nil, cli.Usagef("no artifact to verify: give REF arguments, --from FILE or --all-tags REGISTRY/REPO")
	}
	return inputs, nil
}

// readFrom reads the --from list: a file, or "-" for stdin.
func readFrom(e env, path, scope string) ([]bulk.Input, error) {
	var r io.Reader
	name := path
	if path == "-" {
		if e.stdin == nil {
			return nil, cli.Usagef("--from -: no standard input")
		}
		r, name = e.stdin, "stdin"
	} else {
		fh, err := openList(path)
		if err != nil {
			return nil, cli.Usagef("--from %s: %w", path, err)
		}
		defer fh.Close()
		r = fh
	}
	list, err := bulk.ReadList(r, name, func(ref string) error { return checkReference(ref, scope) })
	if err != nil {
		return nil, cli.Usagef("--from: %w", err)
	}
	return list, nil
}

// openList opens a reference list: a file or a pipe (as --from <(cmd)
// gives), not a folder.
func openList(path string) (*os.File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if st, err := fh.Stat(); err != nil || st.IsDir() {
		fh.Close()
		if err == nil {
			err = errors.New("is a folder")
		}
		return nil, err
	}
	return fh, nil
}

// checkRepository checks an --all-tags REGISTRY/REPO.
func checkRepository(repo string) error {
	r, err := registry.ParseReference(repo + ":latest")
	if err != nil || r.Tag != "latest" {
		return fmt.Errorf("%w %q: --all-tags takes REGISTRY/REPO, without a tag or digest", registry.ErrInvalidReference, repo)
	}
	return nil
}
