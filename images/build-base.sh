#!/usr/bin/env bash
# Builds the "base" sandbox root filesystem (see build-rootfs.sh for where it goes and why).
set -euo pipefail
packages=(
  bash coreutils python3 git curl ca-certificates procps iproute2 tini less util-linux
  findutils grep sed gzip tar xz-utils
)
exec bash "$(dirname "${BASH_SOURCE[0]}")/build-rootfs.sh" base "${packages[@]}"
