#!/usr/bin/env bash
# Builds the "browser" root filesystem: the base packages plus Chromium and fonts (see
# build-rootfs.sh for where it goes and why).
set -euo pipefail
packages=(
  bash coreutils python3 git curl ca-certificates procps iproute2 tini less util-linux
  findutils grep sed gzip tar xz-utils
  # Debian's full Chromium (bookworm-security carries the current release): run with --headless,
  # it can load unpacked extensions, which chromium-headless-shell cannot. Never a downloaded build.
  chromium fonts-liberation fonts-dejavu-core
)
exec bash "$(dirname "${BASH_SOURCE[0]}")/build-rootfs.sh" browser "${packages[@]}"
