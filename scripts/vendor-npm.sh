#!/usr/bin/env bash
# Vendor one file of an npm package into the web app at a pinned version, with its licence:
#   scripts/vendor-npm.sh hls.js 1.7.4 dist/hls.min.mjs hls.min.mjs     (the HLS player)
#   scripts/vendor-npm.sh thumbhash 0.1.1 thumbhash.js thumbhash.js     (ThumbHash placeholders)
# Needs npm (only here, never at run time): `npm pack` fetches the published package and checks it against the
# registry's integrity hash; the file and the package's licence are copied into the app's vendor folder and the
# version and hash recorded in <package>.VERSION. A package that ships no licence file (thumbhash) keeps the one
# committed from its repository. Commit what changed.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
usage="usage: scripts/vendor-npm.sh <package> <version> <file in the package> <name in the app>"
package=${1:?$usage} version=${2:?$usage} source=${3:?$usage} name=${4:?$usage}
dest=api/static/app/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package@$version" >/dev/null)
integrity=$(cd "$work" && npm view "$package@$version" dist.integrity)
tar -xzf "$work"/*.tgz -C "$work"
cp "$work/package/$source" "$dest/$name"
licence=$(find "$work/package" -maxdepth 1 -iname 'licen[cs]e*' | head -n 1)
if [ -n "$licence" ]; then
  cp "$licence" "$dest/$package.LICENSE"
  from="$(basename "$licence") -> $package.LICENSE"
elif [ -s "$dest/$package.LICENSE" ]; then
  from="$package.LICENSE from the package's repository (the package ships none)"
else
  echo "$package $version ships no licence file: add $dest/$package.LICENSE from its repository" >&2
  exit 1
fi
printf '%s %s\nnpm integrity %s\nfiles: %s -> %s, %s\nupdate: scripts/vendor-npm.sh %s <version> %s %s\n' \
  "$package" "$version" "$integrity" "$source" "$name" "$from" "$package" "$source" "$name" > "$dest/$package.VERSION"
echo "$package $version vendored into $dest"
