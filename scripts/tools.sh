#!/usr/bin/env bash
# tools.sh: build the real peer tools (notation, oras, an OCI registry, and on
# request ratify) from the Go module proxy into the user's cache directory, and
# print that directory. Each tool gets its own throw-away Go module so that Go
# never upgrades one tool's dependencies for another. A tool already built at
# the pinned version is reused, so a warm run costs nothing.
#
# usage: scripts/tools.sh [ratify] [containerd] [kyverno]   -> prints the bin directory on stdout
#
# containerd builds containerd v2 and its ctr client from one throw-away
# module (they share the build), with -tags no_btrfs: the btrfs snapshotter
# needs cgo. kyverno (the Kyverno CLI, for the opt-in `make e2e-kyverno`) is
# a 16-minute cold build, so `make test` does not build it.
set -euo pipefail

cache="${NOTATION_PKCS11_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/notation-pkcs11/tools}"
bin="$cache/bin"
mkdir -p "$bin" "$cache/src"

# name  module-path-of-main-package  version
tools=(
  "notation github.com/notaryproject/notation/cmd/notation v1.3.2"
  "oras oras.land/oras/cmd/oras v1.2.3"
  "registry github.com/distribution/distribution/v3/cmd/registry v3.1.2"
)
for arg in "$@"; do
  case "$arg" in
  ratify) tools+=("ratify github.com/ratify-project/ratify/cmd/ratify v1.4.6") ;;
  containerd) tools+=("containerd github.com/containerd/containerd/v2/cmd/containerd v2.4.2") ;;
  kyverno) tools+=("kyverno github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno v1.19.1") ;;
  *) echo "tools: unknown tool set '$arg' (want ratify, containerd or kyverno)" >&2; exit 2 ;;
  esac
done

build() {
  local name=$1 pkg=$2 version=$3
  local stamp="$bin/.$name.version"
  # Extra binaries built from the same module: containerd's ctr client.
  local extra=() tags=()
  if [ "$name" = containerd ]; then
    extra=("ctr ${pkg%/containerd}/ctr")
    tags=(-tags no_btrfs)
  fi
  local complete=yes
  for e in "${extra[@]}"; do
    [ -x "$bin/${e%% *}" ] || complete=no
  done
  if [ -x "$bin/$name" ] && [ $complete = yes ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg@$version" ]; then
    return 0
  fi
  echo "tools: building $name $version from the Go module proxy (cached in $bin)" >&2
  local dir="$cache/src/$name"
  rm -rf "$dir" && mkdir -p "$dir"
  (
    cd "$dir"
    go mod init "tools-$name" >/dev/null 2>&1
    if [ "$name" = ratify ]; then
      # One checksum lookup of Ratify's graph 404s on the proxy; seed go.sum
      # from Ratify's own go.sum so go never asks for it.
      local mod=github.com/ratify-project/ratify
      GOFLAGS=-mod=mod go mod download -json "$mod@$version" >"$dir/dl.json"
      local gosum
      gosum=$(sed -n 's/.*"GoSum": "\(.*\)".*/\1/p' "$dir/dl.json")
      [ -f "$gosum" ] && cat "$gosum" >>go.sum
    fi
    if [ "$name" = kyverno ]; then
      # Kyverno's own go.mod has one replace directive a consumer must copy.
      GOFLAGS=-mod=mod go get -tool "$pkg@$version" >&2
      go mod edit -replace k8s.io/pod-security-admission=github.com/kyverno/pod-security-admission@v0.0.0-20251031094455-46f20778634f
      go mod tidy >&2
    else
      go get -tool "$pkg@$version" >&2
    fi
    for e in "${extra[@]}"; do
      go get -tool "${e#* }@$version" >&2
    done
    CGO_ENABLED=0 go build "${tags[@]}" -trimpath -o "$bin/$name" "$pkg" >&2
    for e in "${extra[@]}"; do
      CGO_ENABLED=0 go build "${tags[@]}" -trimpath -o "$bin/${e%% *}" "${e#* }" >&2
    done
  )
  echo "$pkg@$version" >"$stamp"
}

for t in "${tools[@]}"; do
  # shellcheck disable=SC2086
  build $t
done
echo "$bin"
