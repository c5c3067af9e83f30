#!/usr/bin/env bash
# Prints a directory holding kube-apiserver and etcd (and, with
# WITH_CONTROLLER_MANAGER=1, kube-controller-manager) for envtest, building them
# from the Go module proxy when setup-envtest cannot download them.
#
# Binaries are cached in setup-envtest's own store, outside the checkout, so
# later runs and CI on the same machine reuse them:
#   ${ENVTEST_STORE:-~/.local/share/kubebuilder-envtest}/k8s/<version>-<os>-<arch>/
#
# Why build: setup-envtest downloads release tarballs from a bucket that is not
# reachable from every network (this project's CI reaches only the Go module
# proxy). kube-apiserver and etcd are ordinary Go programs, so the module proxy
# is enough to produce them.
set -euo pipefail

K8S_VERSION="${ENVTEST_K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ENVTEST_ETCD_VERSION:-3.6.16}"
SETUP_ENVTEST="${SETUP_ENVTEST:-}"
STORE="${ENVTEST_STORE:-${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest}"
GOOS="$(go env GOOS)"
GOARCH="$(go env GOARCH)"
DIR="$STORE/k8s/$K8S_VERSION-$GOOS-$GOARCH"
WANT=(kube-apiserver etcd)
if [ "${WITH_CONTROLLER_MANAGER:-0}" = "1" ]; then WANT+=(kube-controller-manager); fi

log() { echo "envtest-binaries: $*" >&2; }

have_all() {
  local b
  for b in "${WANT[@]}"; do [ -x "$DIR/$b" ] || return 1; done
}

if have_all; then echo "$DIR"; exit 0; fi

# 1. The ordinary route: setup-envtest's download. Bounded, because on a
#    closed network it must fail fast rather than hang.
if [ -n "$SETUP_ENVTEST" ] && [ -x "$SETUP_ENVTEST" ]; then
  if dl=$(timeout 60 "$SETUP_ENVTEST" use "$K8S_VERSION" --bin-dir "$STORE" -p path 2>/dev/null) && [ -n "$dl" ]; then
    mkdir -p "$DIR"
    for b in kube-apiserver etcd kubectl; do
      [ -x "$dl/$b" ] && [ ! -e "$DIR/$b" ] && cp "$dl/$b" "$DIR/$b"
    done
    if have_all; then echo "$DIR"; exit 0; fi
  else
    log "setup-envtest could not download $K8S_VERSION; building from the Go module proxy"
  fi
fi

# 2. The fallback: build each missing binary from source modules.
mkdir -p "$DIR"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export CGO_ENABLED=0 GOFLAGS=-mod=mod

k8s_module() { # $1 = package dir under cmd/, $2 = import path of app, $3 = constructor
  local name="$1" app="$2" ctor="$3"
  local mod="$WORK/$name"
  mkdir -p "$mod"
  cat >"$mod/main.go" <<GO
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"$app"
)

func main() { os.Exit(cli.Run(app.$ctor())) }
GO
  (
    cd "$mod"
    go mod init "envtest.local/$name" >/dev/null 2>&1
    go mod edit -require="k8s.io/kubernetes@v$K8S_VERSION"
    # kubernetes' go.mod points every k8s.io/* staging module at ./staging;
    # outside its repo those must come from the proxy at the matching version.
    local gomod
    gomod="$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
    local staging
    for staging in $(sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$gomod"); do
      go mod edit -replace="$staging=$staging@v0.${K8S_VERSION#1.}"
    done
    go mod tidy >&2
    go build -trimpath -ldflags="-s -w" -o "$DIR/$name" . >&2
  )
}

for b in "${WANT[@]}"; do
  [ -x "$DIR/$b" ] && continue
  log "building $b (several minutes on 2 cores; cached afterwards in $DIR)"
  case "$b" in
    kube-apiserver)
      k8s_module kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver/app NewAPIServerCommand ;;
    kube-controller-manager)
      k8s_module kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager/app NewControllerManagerCommand ;;
    etcd)
      mod="$WORK/etcd"; mkdir -p "$mod"
      cat >"$mod/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
      (
        cd "$mod"
        go mod init envtest.local/etcd >/dev/null 2>&1
        go mod edit -require="go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
        go mod tidy >&2
        go build -trimpath -ldflags="-s -w" -o "$DIR/etcd" . >&2
      ) ;;
  esac
done

have_all || { log "missing binaries in $DIR"; exit 1; }
echo "$DIR"
