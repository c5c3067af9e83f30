#!/usr/bin/env bash
# Builds golangci-lint with the module plugins of .custom-gcl.yml
# (kube-api-linter) by running `golangci-lint custom`, into $LOCALBIN/NAME.
#
#   GOLANGCI_LINT=bin/golangci-lint GOLANGCI_LINT_VERSION=v2.15.0 \
#   KUBE_API_LINTER_VERSION=v0.0.0-... hack/golangci-lint-custom.sh NAME
#
# `golangci-lint custom` starts with a `git clone` of
# https://github.com/golangci/golangci-lint.git at the configured tag, and
# GitHub is not reachable from every network (this project's CI reaches only
# the Go module proxy). When it is not, the same tag's source is taken from
# the Go module proxy (checked against the checksum database like any module),
# committed to a local repository under that tag, and git is pointed at it
# with url.<local>.insteadOf for the duration of the build. Everything else
# (plugin `go get`, `go mod tidy`, `go build`) is golangci-lint's own.
set -euo pipefail
cd "$(dirname "$0")/.."

NAME="${1:?usage: $0 BINARY-NAME}"
GOLANGCI_LINT="${GOLANGCI_LINT:?GOLANGCI_LINT: path to golangci-lint}"
GOLANGCI_LINT_VERSION="${GOLANGCI_LINT_VERSION:?}"
KUBE_API_LINTER_VERSION="${KUBE_API_LINTER_VERSION:?}"
LOCALBIN="${LOCALBIN:-$(pwd)/bin}"
UPSTREAM=https://github.com/golangci/golangci-lint.git

log() { echo "golangci-lint-custom: $*" >&2; }

# One source of truth would be nicer, but `golangci-lint custom` reads only
# .custom-gcl.yml and the Makefile pins every tool: insist that they agree.
cfg_version="$(sed -n 's/^version:[[:space:]]*\([^[:space:]#]*\).*/\1/p' .custom-gcl.yml)"
kal_version="$(awk '/module:[[:space:]]*sigs.k8s.io\/kube-api-linter/ {m=1; next} m && /version:/ {print $2; exit}' .custom-gcl.yml)"
if [ "$cfg_version" != "$GOLANGCI_LINT_VERSION" ] || [ "$kal_version" != "$KUBE_API_LINTER_VERSION" ]; then
  log ".custom-gcl.yml pins golangci-lint $cfg_version and kube-api-linter $kal_version;"
  log "the Makefile pins $GOLANGCI_LINT_VERSION and $KUBE_API_LINTER_VERSION: make them agree."
  exit 1
fi

tmp="$(mktemp -d)"
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

custom=("$GOLANGCI_LINT" custom --name "$NAME" --destination "$LOCALBIN")

if timeout 20 git ls-remote --exit-code "$UPSTREAM" "refs/tags/$GOLANGCI_LINT_VERSION" >/dev/null 2>&1; then
  log "building $NAME (golangci-lint $GOLANGCI_LINT_VERSION from GitHub, kube-api-linter $KUBE_API_LINTER_VERSION)"
  "${custom[@]}"
  exit 0
fi

log "GitHub unreachable: golangci-lint $GOLANGCI_LINT_VERSION source from the Go module proxy"
mod=github.com/golangci/golangci-lint/v2
(cd "$tmp" && GOFLAGS=-mod=mod go mod download "$mod@$GOLANGCI_LINT_VERSION")
src="$(go env GOMODCACHE)/$mod@$GOLANGCI_LINT_VERSION"
[ -f "$src/go.mod" ] || { log "no module source in $src"; exit 1; }
repo="$tmp/golangci-lint"
cp -R "$src" "$repo"
chmod -R u+w "$repo"
git -C "$repo" init -q
git -C "$repo" add -A
git -C "$repo" -c user.name=golangci-lint-custom -c user.email=none@localhost \
  -c commit.gpgsign=false commit -q -m "$mod@$GOLANGCI_LINT_VERSION from the Go module proxy"
git -C "$repo" tag "$GOLANGCI_LINT_VERSION"

log "building $NAME (kube-api-linter $KUBE_API_LINTER_VERSION)"
# golangci-lint passes GIT_CONFIG_COUNT/KEY/VALUE through to its git clone.
GIT_CONFIG_COUNT=1 \
GIT_CONFIG_KEY_0="url.file://$repo.insteadOf" \
GIT_CONFIG_VALUE_0="$UPSTREAM" \
  "${custom[@]}"
