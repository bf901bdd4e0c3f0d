#!/usr/bin/env bash
# Re-fetch the browser assets the analyst (folium) map needs, at pinned versions, from the npm
# registry, keeping only the files the map loads plus each package's licence.
#
# Why this exists: the dashboard runs in air-gapped operations centres, so nothing may be fetched
# from a CDN at run time. Streamlit serves dashboard/static/ at /app/static/ and
# layers/map/leaflet/ points every <script>/<link> at /app/static/vendor/<package>@<version>/...
#
# Usage:  dashboard/static/vendor/fetch_vendor.sh            # re-fetch, then verify SHA256SUMS
#         dashboard/static/vendor/fetch_vendor.sh --update   # after a version bump: rewrite SHA256SUMS
#
# `npm pack` checks each tarball against the registry's published integrity hash; SHA256SUMS then
# pins the exact bytes committed here, so a re-fetch that differs fails loudly.
# After a version bump also update the constants in layers/map/leaflet/ and README.md here.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
UPDATE=0
[[ "${1:-}" == "--update" ]] && UPDATE=1

LEAFLET=leaflet@1.9.4
DRAW=leaflet-draw@1.0.4
MEASURE=leaflet-measure@3.1.0

# package@version -> files kept, relative to the tarball's package/ folder.
declare -A KEEP=(
  [$LEAFLET]="LICENSE package.json dist/leaflet.js dist/leaflet.css
              dist/images/layers.png dist/images/layers-2x.png
              dist/images/marker-icon.png dist/images/marker-icon-2x.png dist/images/marker-shadow.png"
  [$DRAW]="package.json dist/leaflet.draw.js dist/leaflet.draw.css
           dist/images/spritesheet.png dist/images/spritesheet-2x.png dist/images/spritesheet.svg"
  [$MEASURE]="LICENSE package.json dist/leaflet-measure.js dist/leaflet-measure.css
              dist/assets/cancel.png dist/assets/cancel_@2X.png dist/assets/check.png dist/assets/check_@2X.png
              dist/assets/focus.png dist/assets/focus_@2X.png dist/assets/rulers.png dist/assets/rulers_@2X.png
              dist/assets/start.png dist/assets/start_@2X.png dist/assets/trash.png dist/assets/trash_@2X.png"
)

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

for pkg in "$LEAFLET" "$DRAW" "$MEASURE"; do
  echo "fetching $pkg"
  tgz="$(cd "$WORK" && npm pack --silent "$pkg" 2>/dev/null | tail -n 1)"
  mkdir -p "$WORK/$pkg"
  tar -xzf "$WORK/$tgz" -C "$WORK/$pkg" 2>/dev/null
  dest="$HERE/$pkg"
  rm -rf "$dest"
  for f in ${KEEP[$pkg]}; do
    install -D -m 0644 "$WORK/$pkg/package/$f" "$dest/$f"
  done
done

# leaflet-draw's npm tarball ships no licence file, although package.json declares MIT and the
# upstream repository (github.com/Leaflet/Leaflet.draw, MIT-LICENSE.md) carries the MIT text.
# Write the MIT text with the copyright line of the bundle's own banner, and say so.
cat > "$HERE/$DRAW/LICENSE" <<'EOF'
MIT License (reconstructed: the leaflet-draw npm package declares "license": "MIT" in
package.json but ships no licence file; the upstream text is MIT-LICENSE.md in
https://github.com/Leaflet/Leaflet.draw. Copyright line from the banner of dist/leaflet.draw.js.)

Copyright (c) 2012-2017, Jacob Toye, Jon West, Smartrak, Leaflet

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE.
EOF
chmod 0644 "$HERE/$DRAW/LICENSE"

cd "$HERE"
if [[ $UPDATE -eq 1 || ! -f SHA256SUMS ]]; then
  find "$LEAFLET" "$DRAW" "$MEASURE" -type f | LC_ALL=C sort | xargs sha256sum > SHA256SUMS
  echo "wrote SHA256SUMS"
else
  sha256sum --quiet -c SHA256SUMS
  echo "all files match SHA256SUMS"
fi
du -sh "$LEAFLET" "$DRAW" "$MEASURE"
