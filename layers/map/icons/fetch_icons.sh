#!/usr/bin/env bash
# Re-fetch the infrastructure glyphs from @mapbox/maki at the pinned version.
#
# Why a script and not a runtime download: the dashboard must work offline, so
# the few SVGs it uses are committed next to this script; this only documents
# (and repeats) where they came from. It asks the npm registry for one pinned
# tarball, checks it against the registry's published sha512, and copies the
# named icons here unchanged. Run from anywhere: bash layers/map/icons/fetch_icons.sh
set -euo pipefail

PACKAGE="@mapbox/maki"
VERSION="8.2.0"
INTEGRITY="sha512-sTd/fEBfkBSidVwwtbijHZYJC7NhqvgLrXzSRHgxbLi52x4IciyTVUufqvJr8oIChw7hT7MIBHu5fyqrrpfFdA=="
# The Maki icon used for each kind is mapped in layers/map/icons/__init__.py (KIND_GLYPHS).
ICONS=(airport heliport harbor charging-station hospital dam bridge lift-gate
       communications-tower fuel water town-hall roadblock circle)

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

tarball="$(cd "$work" && npm pack --silent "${PACKAGE}@${VERSION}")"
actual="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0)"
if [[ "$actual" != "$INTEGRITY" ]]; then
  echo "integrity mismatch for ${PACKAGE}@${VERSION}: $actual" >&2
  exit 1
fi
tar -xzf "$work/$tarball" -C "$work"
for name in "${ICONS[@]}"; do
  cp "$work/package/icons/${name}.svg" "$here/${name}.svg"
done
echo "copied ${#ICONS[@]} icons from ${PACKAGE}@${VERSION} into $here"
