#!/usr/bin/env bash
# Runs the whole test suite: unit tests and the integration suite against a real `chaser server`
# (SQLite and PostgreSQL records, gVisor sandboxes). Called by `make test` after bootstrap.sh.
# Exit code: pytest's; "no tests collected" (5) counts as a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

# The PostgreSQL variant of the suite starts a throwaway cluster, so the server binaries
# (initdb, pg_ctl, postgres) must exist; Debian puts them under /usr/lib/postgresql/<major>/bin.
pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(pg_bindir)" ] || [ ! -x "$(pg_bindir)/initdb" ]; then
  echo "test: installing Debian's postgresql (server binaries for the PostgreSQL test cluster)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
CHASER_TEST_PG_BINDIR=$(pg_bindir)
export CHASER_TEST_PG_BINDIR
echo "test: PostgreSQL server binaries: $CHASER_TEST_PG_BINDIR"

# Installs Debian packages for a binary the tests need, once: apt_for BINARY REASON PACKAGE...
apt_for() {
  local bin=$1 reason=$2; shift 2
  command -v "$bin" >/dev/null && return 0
  echo "test: installing $* ($reason)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The `chaser shell` e2e tests drive a real terminal through tmux.
apt_for tmux "terminal for the chaser shell e2e tests" tmux

# The OCI image tests pull from a real registry on loopback: Debian's docker-registry.
if ! command -v docker-registry >/dev/null; then
  apt_for docker-registry "the OCI registry the image tests pull from" docker-registry
  # The package starts a registry on :5000 as a service; the tests run their own.
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
  pkill -x docker-registry >/dev/null 2>&1 || true
fi

# The browser tests (Playwright) and bench/browser.py use Debian's Chromium on the host too.
apt_for chromium "Playwright's browser for the browser tests" chromium fonts-liberation

# Every prerequisite is installed above, so a skipped test is a failure (tests/conftest.py).
export CHASER_TEST_NO_SKIPS=1
echo "test: running .venv/bin/pytest tests/"
rc=0
.venv/bin/pytest tests/ "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test: FAILED: pytest collected no tests"
  exit 1
fi
if [ "$rc" -ne 0 ]; then
  echo "test: FAILED (pytest exit code $rc)"
else
  echo "test: all tests passed"
fi
exit "$rc"
