#!/usr/bin/env bash
# Builds one guest root filesystem from Debian packages (bookworm, mmdebstrap minbase):
#   build-rootfs.sh IMAGE PACKAGE...      (called by build-base.sh and build-browser.sh)
#
# Output: ${CHASER_IMAGE_CACHE:-/var/cache/chaser/images}/IMAGE-<hash>/rootfs, where <hash> covers
# this script, statx-shim.c and the package list (a recipe change is a new image), and the symlink
# `IMAGE -> IMAGE-<hash>`, which is how the host daemon resolves the image name.
# Idempotent (skips when present), serialised by flock, built in a temp dir and renamed into place.
#
# Images do NOT contain the guest agent: the host bind-mounts chaser/agent read-only at
# /opt/chaser/chaser_agent at boot, so agent changes never need an image rebuild. Every image gets
# the user `user` (uid 1000), /workspace, and a preloaded statx shim (statx-shim.c) because
# bookworm's runsc rejects a statx flag coreutils passes on every lookup.
set -euo pipefail

cache=${CHASER_IMAGE_CACHE:-/var/cache/chaser/images}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
image=${1:?usage: build-rootfs.sh IMAGE PACKAGE...}
shift
packages=("$@")
# Guests trust the CAs this host trusts locally (/usr/local/share/ca-certificates, Debian's place for
# them: a company's, a TLS-intercepting egress proxy's), so https works from sessions behind the same
# egress as the host.
shopt -s nullglob
extra_ca=(/usr/local/share/ca-certificates/*.crt)
shopt -u nullglob
# The recipe is this script, the shim, the package list and those CAs: changing any is a new image.
recipe_hash=$( (cat "$here/build-rootfs.sh" "$here/statx-shim.c" "${extra_ca[@]}"; echo "$image ${packages[*]}") \
  | sha256sum | cut -c1-16)
name=$image-$recipe_hash
dest=$cache/$name

mkdir -p "$cache"
exec 9>"$cache/.build-$image.lock"
flock 9

point_alias() {
  # Atomic re-point of `$image` at the image just built or found.
  ln -sfn "$name" "$cache/.$image.tmp.$$"
  mv -T "$cache/.$image.tmp.$$" "$cache/$image"
}

if [ -d "$dest/rootfs" ]; then
  point_alias
  echo "build-$image: $name present at $dest"
  exit 0
fi

command -v mmdebstrap >/dev/null || { echo "build-$image: mmdebstrap is missing (apt-get install mmdebstrap)" >&2; exit 1; }
command -v gcc >/dev/null || { echo "build-$image: gcc is missing (apt-get install gcc), needed for statx-shim.c" >&2; exit 1; }

tmp=$(mktemp -d "$cache/.tmp-$name.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

# Reuse the host's apt sources (mirror, snapshot pinning) when it has a deb822 file.
mirror=()
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=(/etc/apt/sources.list.d/debian.sources)
fi

start=$(date +%s)
# Built with the host's gcc against the host's glibc: both are bookworm's 2.36.
gcc -O2 -shared -fPIC -o "$tmp/statx-shim.so" "$here/statx-shim.c"
mmdebstrap --quiet --variant=minbase --mode=root \
  --include="$(IFS=,; echo "${packages[*]}")" \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook='chroot "$1" useradd --uid 1000 --user-group --create-home --shell /bin/bash user' \
  --customize-hook='mkdir -p "$1/workspace" "$1/opt/chaser/chaser_agent" "$1/run/chaser" && chmod 1777 "$1/workspace"' \
  --customize-hook='echo chaser > "$1/etc/hostname"' \
  --customize-hook="install -D -m 0755 '$tmp/statx-shim.so' \"\$1/usr/lib/chaser/statx-shim.so\"" \
  --customize-hook='echo /usr/lib/chaser/statx-shim.so > "$1/etc/ld.so.preload"' \
  --customize-hook='for ca in /usr/local/share/ca-certificates/*.crt; do [ -f "$ca" ] && install -D -m 0644 "$ca" "$1$ca"; done; if [ -x "$1/usr/sbin/update-ca-certificates" ]; then chroot "$1" update-ca-certificates >/dev/null; fi' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
  bookworm "$tmp/rootfs" "${mirror[@]}" </dev/null

rm -f "$tmp/statx-shim.so"
echo "$recipe_hash" >"$tmp/recipe-hash"
mv -T "$tmp" "$dest"
trap - EXIT
point_alias
echo "build-$image: built $name in $(( $(date +%s) - start ))s at $dest"
