package truststore

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
)

// Lint lists every problem under root (the folder that holds x509/) at once,
// for a lint command: every store folder found under x509/ is checked with
// the rules of Load and every problem in it is reported (every file, every
// certificate), not only the first. It also reports what notation ignores
// (files outside any store, unknown type folders, store folders whose name no
// policy can reference) with ErrIgnored, and each ref in refs that is invalid
// or whose store does not exist. A store folder passes Lint exactly when Load
// would load it. Lint returns nil when there is no problem.
func Lint(root string, refs []Ref) []*StoreError {
	return lint(osSource{root: root}, refs)
}

// LintFS is Lint over an fs.FS whose root holds x509/.
func LintFS(fsys fs.FS, refs []Ref) []*StoreError {
	return lint(fsSource{fsys: fsys}, refs)
}

func lint(src source, refs []Ref) []*StoreError {
	var out []*StoreError
	visited := make(map[Ref]bool)
	out = append(out, lintTree(src, visited)...)
	for _, ref := range refs {
		if visited[ref] {
			continue
		}
		visited[ref] = true
		if ref.Valid() == nil && (ref.Name == "." || ref.Name == "..") {
			p := src.display(storeDir(ref))
			out = append(out, &StoreError{Ref: ref, Path: p, Err: ErrInvalidRef,
				Msg: fmt.Sprintf("the name %q is accepted by notation but makes it read %s as the store, not a store folder; give the store a real name", ref.Name, p)})
			continue
		}
		_, errs := scanStore(src, ref, true)
		out = append(out, errs...)
	}
	return out
}

// lintTree checks everything under x509/ and marks the stores it checked.
func lintTree(src source, visited map[Ref]bool) []*StoreError {
	var out []*StoreError
	x509Path := src.display("x509")
	top, err := src.readDir("x509")
	if err != nil {
		e := &StoreError{Path: x509Path, Err: fmt.Errorf("%w: %w", ErrAccess, err),
			Msg: fmt.Sprintf("cannot read folder %s: %v", x509Path, err)}
		if errors.Is(err, fs.ErrNotExist) {
			e.Err = fmt.Errorf("%w: %w", ErrStoreNotFound, err)
			e.Msg = fmt.Sprintf("folder %s does not exist; notation reads trust stores from %s/{ca,signingAuthority,tsa}/NAME/", x509Path, x509Path)
		}
		return append(out, e)
	}
	for _, te := range top {
		typ := Type(te.Name())
		typeDir := path.Join("x509", te.Name())
		typePath := src.display(typeDir)
		if !typ.Valid() {
			out = append(out, &StoreError{Path: typePath, Err: ErrIgnored,
				Msg: fmt.Sprintf("%s is not a store type folder and notation never reads it; the type folders are ca, signingAuthority and tsa (case-sensitive), rename or remove it", typePath)})
			continue
		}
		stores, err := src.readDir(typeDir)
		if err != nil {
			out = append(out, &StoreError{Path: typePath, Err: fmt.Errorf("%w: %w", ErrAccess, err),
				Msg: fmt.Sprintf("cannot read type folder %s: %v", typePath, err)})
			continue
		}
		for _, se := range stores {
			name := se.Name()
			storePath := src.display(path.Join(typeDir, name))
			if se.Type().IsRegular() {
				out = append(out, &StoreError{Path: storePath, Err: ErrIgnored,
					Msg: fmt.Sprintf("file %s is directly in the type folder, outside any store, and notation never reads it; move it into a store folder such as %s", storePath, src.display(path.Join(typeDir, "NAME", name)))})
				continue
			}
			if !ValidName(name) {
				out = append(out, &StoreError{Path: storePath, Err: ErrIgnored,
					Msg: fmt.Sprintf("store folder %s has an invalid name %q and no trust policy can reference it; a name must match [a-zA-Z0-9_.-]+, rename it", storePath, name)})
				continue
			}
			ref := Ref{Type: typ, Name: name}
			visited[ref] = true
			_, errs := scanStore(src, ref, true)
			out = append(out, errs...)
		}
	}
	return out
}
