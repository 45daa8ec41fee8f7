#!/usr/bin/env bash
# Installs everything Chaser needs on a Debian machine, idempotently: Debian packages, the Python
# virtual environment at .venv, and the base guest image. Safe to run again; fast when done.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pkg_bin in runsc:runsc mmdebstrap:mmdebstrap mkfs.ext4:e2fsprogs losetup:mount git:git mkfs.xfs:xfsprogs \
  ip:iproute2 nft:nftables nsenter:util-linux; do
  bin=${pkg_bin%%:*}; pkg=${pkg_bin##*:}
  command -v "$bin" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Python packages come only from requirements.lock (exact versions, hashes), so a fresh machine
# gets exactly what was tested; `make lock` changes it on purpose. The project itself is then
# installed editable without dependencies, built by the locked setuptools.
stamp=.venv/.installed-$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing .venv from requirements.lock"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --require-hashes --no-deps -r requirements.lock
  .venv/bin/pip install -q --no-deps --no-build-isolation -e .
  .venv/bin/pip check
  rm -f .venv/.installed-*; touch "$stamp"
fi

bash images/build-base.sh
bash images/build-vm.sh
bash images/build-browser.sh
