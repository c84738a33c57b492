#!/usr/bin/env bash
# tools.sh: build the real peer tools (notation, oras, an OCI registry, and on
# request ratify) from the Go module proxy into the user's cache directory, and
# print that directory. Each tool gets its own throw-away Go module so that Go
# never upgrades one tool's dependencies for another. A tool already built at
# the pinned version is reused, so a warm run costs nothing.
#
# usage: scripts/tools.sh [ratify]      -> prints the bin directory on stdout
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
if [ "${1:-}" = ratify ]; then
  tools+=("ratify github.com/ratify-project/ratify/cmd/ratify v1.4.6")
fi

build() {
  local name=$1 pkg=$2 version=$3
  local stamp="$bin/.$name.version"
  if [ -x "$bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg@$version" ]; then
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
    go get -tool "$pkg@$version" >&2
    CGO_ENABLED=0 go build -trimpath -o "$bin/$name" "$pkg" >&2
  )
  echo "$pkg@$version" >"$stamp"
}

for t in "${tools[@]}"; do
  # shellcheck disable=SC2086
  build $t
done
echo "$bin"
