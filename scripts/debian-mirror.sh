#!/usr/bin/env bash
# Print the Debian mirror this machine's apt already uses (a URL ending in /debian), for debootstrap.
#
# Reads both source formats apt knows — deb822 `*.sources` files (`URIs: …`, Debian 12's default, in
# sources.list.d/) and one-line `*.list` files (`deb [options] URI suite …`, the older /etc/apt/sources.list) —
# and skips files that do not exist (a Debian 12 machine has no /etc/apt/sources.list at all), commented-out
# lines, and archives that are not a Debian mirror (debian-security, snapshots, an Ubuntu host's own archive):
# debootstrap needs a mirror of Debian itself, whose path ends in /debian.
#
# SMMU_DEBIAN_MIRROR overrides the lookup. SMMU_APT_SOURCES (a space-separated list of files or directories,
# default /etc/apt/sources.list /etc/apt/sources.list.d) says where to look; the tests point it at samples.
# Exits 1 with a message naming SMMU_DEBIAN_MIRROR when no mirror is found.
set -euo pipefail

if [ -n "${SMMU_DEBIAN_MIRROR:-}" ]; then
  echo "$SMMU_DEBIAN_MIRROR"
  exit 0
fi

read -r -a places <<<"${SMMU_APT_SOURCES:-/etc/apt/sources.list /etc/apt/sources.list.d}"
files=()
for place in "${places[@]}"; do
  if [ -d "$place" ]; then
    for file in "$place"/*.sources "$place"/*.list; do
      [ -f "$file" ] && files+=("$file")
    done
  elif [ -f "$place" ]; then
    files+=("$place")
  fi
done

mirror=""
if [ "${#files[@]}" -gt 0 ]; then
  # One URI per line from either format; awk, unlike grep, does not fail when nothing matches.
  mirror=$(awk '
    /^[[:space:]]*#/ { next }
    tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i; next }
    $1 == "deb" {
      i = 2
      if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }  # skip [arch=… signed-by=…]
      if (i <= NF) print $i
    }
  ' "${files[@]}" | grep -E '^https?://[^ ]+/debian/?$' | head -1 || true)
fi

if [ -z "$mirror" ]; then
  echo "no Debian mirror found in apt's sources (${files[*]:-no source files in ${places[*]}});" \
    "set SMMU_DEBIAN_MIRROR to a Debian mirror, e.g. SMMU_DEBIAN_MIRROR=http://<mirror>/debian" >&2
  exit 1
fi
echo "${mirror%/}"
