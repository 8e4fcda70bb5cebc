#!/usr/bin/env bash
# Vendor hls.js (the web app's HLS player) at a pinned version: `scripts/update-hlsjs.sh 1.7.4`.
# Needs npm (only here, never at run time): `npm pack` fetches the published package and checks it against the
# registry's integrity hash; the minified ES module and the licence are copied into the app's static folder and
# the version and hash are recorded next to them. Commit the three files.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: scripts/update-hlsjs.sh <version>, e.g. 1.7.4}
dest=api/static/app/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "hls.js@$version" >/dev/null)
integrity=$(cd "$work" && npm view "hls.js@$version" dist.integrity)
tar -xzf "$work/hls.js-$version.tgz" -C "$work"
cp "$work/package/dist/hls.min.mjs" "$dest/hls.min.mjs"
cp "$work/package/LICENSE" "$dest/hls.js.LICENSE"
printf 'hls.js %s\nnpm integrity %s\nfiles: dist/hls.min.mjs -> hls.min.mjs, LICENSE -> hls.js.LICENSE\nupdate: scripts/update-hlsjs.sh <version>\n' \
  "$version" "$integrity" > "$dest/hls.js.VERSION"
echo "hls.js $version vendored into $dest"
