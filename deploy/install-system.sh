#!/usr/bin/env bash
# Installs the Debian packages harbor-py needs, when they are missing.
#   deploy/install-system.sh run    what `make run` needs
#   deploy/install-system.sh test   that, plus the real clients and servers the tests use
#   deploy/install-system.sh conformance   Go and the Go packages tests/oci_conformance.py needs
set -euo pipefail
profile=${1:-run}

need=()
want() { # want <command-or-path> <package>
    if ! command -v "$1" >/dev/null 2>&1 && [ ! -e "$1" ]; then need+=("$2"); fi
}
want docker-registry docker-registry
want nginx nginx
want npm npm  # the UI's third-party browser code (frontend/package.json)
want /usr/sbin/nginx nginx
want redis-server redis-server
want pg_dump postgresql-client  # manage.py backup / restore (PostgreSQL)
want /usr/include/ldap.h libldap2-dev
want /usr/include/sasl/sasl.h libsasl2-dev
# The built-in scanner reads RPM databases with librpm's own tool (docs/scanner.md); the
# package brings rpmbuild too, which the scanner's tests build their RPMs with.
want rpm rpm
if [ "$profile" = test ]; then
    want skopeo skopeo
    want slapd slapd
    want ldapadd ldap-utils
    want chromium chromium
    want db5.3_load db5.3-util  # a BerkeleyDB rpmdb for the scanner's tests
    want xgettext gettext  # the UI catalogue check (tests/unit/test_ui_i18n.py)
    # A CJK font, so that chromium draws the 简体中文 UI in screenshots (about 5 MB,
    # against about 90 MB for fonts-noto-cjk).
    want /usr/share/fonts/truetype/wqy/wqy-microhei.ttc fonts-wqy-microhei
    want docker-compose docker-compose
    # Real OCI clients (tests/e2e/test_container_clients.py): buildah builds from a
    # Containerfile, podman pulls and runs.
    want podman podman
    want buildah buildah
    want /bin/busybox busybox-static  # the base image those tests build and push
    # The upstream podman deploy/build-podman.sh builds (cgo; SQLite from the system)
    want gcc gcc
    want /usr/include/sqlite3.h libsqlite3-dev
    # Failover tests (docs/deployment.md): Redis Sentinel; Patroni (Debian's, on the system
    # python that the postgres user can run) with etcd and HAProxy, over PostgreSQL 15.
    want redis-sentinel redis-sentinel
    want /usr/bin/etcd etcd-server
    want /usr/bin/patroni patroni
    want /usr/sbin/haproxy haproxy
    want /usr/lib/postgresql/15/bin/postgres postgresql-15
fi
if [ "$profile" = conformance ]; then
    # tests/oci_conformance.py builds the OCI conformance suite with Debian's Go and these.
    want go golang-go
    for dev in go-resty/resty google/uuid opencontainers/go-digest mitchellh/mapstructure \
        asaskevich/govalidator go-logr/logr google/go-cmp; do
        want "/usr/share/gocode/src/github.com/$dev" "golang-github-${dev//\//-}-dev"
    done
    want /usr/share/gocode/src/golang.org/x/net golang-golang-x-net-dev
    want /usr/share/gocode/src/golang.org/x/sys golang-golang-x-sys-dev
    want /usr/share/gocode/src/golang.org/x/text golang-golang-x-text-dev
    want /usr/share/gocode/src/gopkg.in/yaml.v3 golang-gopkg-yaml.v3-dev
fi

if [ ${#need[@]} -eq 0 ]; then exit 0; fi
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
echo "installing Debian packages: ${need[*]}"
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
# Keep package scripts from starting system-wide services (nginx on :80, slapd, redis).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee $policy >/dev/null
    $sudo chmod +x $policy
    created_policy=1
fi
trap '[ $created_policy -eq 1 ] && $sudo rm -f $policy' EXIT
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
