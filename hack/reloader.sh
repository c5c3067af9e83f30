#!/usr/bin/env bash
# Builds Stakater Reloader from its source into bin/reloader-VERSION and links
# bin/reloader to it, for the bench's peer scenario (bin/bench
# -scenarios peer). Usage: hack/reloader.sh VERSION [LOCALBIN]
#
# First through the Go module proxy (go install github.com/stakater/Reloader@VERSION).
# Where the proxy does not serve that module, set RELOADER_SRC to a checkout of
# Reloader at VERSION (git clone --branch VERSION https://github.com/stakater/Reloader):
# it is built there, its dependencies coming from the module proxy.
set -euo pipefail

VERSION="${1:?usage: hack/reloader.sh VERSION [LOCALBIN]}"
LOCALBIN="${2:-$(pwd)/bin}"
TARGET="$LOCALBIN/reloader-$VERSION"
mkdir -p "$LOCALBIN"
log() { echo "reloader: $*" >&2; }

if [ ! -x "$TARGET" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  if GOBIN="$tmp" go install "github.com/stakater/Reloader@$VERSION" 2>"$tmp/install.log"; then
    mv "$tmp/Reloader" "$TARGET"
  elif [ -n "${RELOADER_SRC:-}" ]; then
    log "the module proxy does not serve github.com/stakater/Reloader@$VERSION ($(tail -1 "$tmp/install.log")); building $RELOADER_SRC"
    have="$(cd "$RELOADER_SRC" && git describe --tags --exact-match 2>/dev/null || cat VERSION 2>/dev/null || true)"
    case "$have" in
      "$VERSION"|"${VERSION#v}") ;;
      *) log "$RELOADER_SRC is at '$have', not $VERSION"; exit 1 ;;
    esac
    (cd "$RELOADER_SRC" && go build -o "$TARGET" .)
  else
    cat "$tmp/install.log" >&2
    log "could not install github.com/stakater/Reloader@$VERSION through the module proxy; set RELOADER_SRC to a checkout of it at $VERSION"
    exit 1
  fi
fi
ln -sf "$(basename "$TARGET")" "$LOCALBIN/reloader"
log "$LOCALBIN/reloader -> $(basename "$TARGET")"
