#!/usr/bin/env bash
# Installs moto in server mode (the AWS APIs of the end-to-end tests: SQS FIFO, SSM, Secrets Manager, ECR,
# EKS, STS, CloudWatch) from PyPI into a venv in a cache outside the repository, keyed by the pinned
# version in versions.env, and reuses it when it is already there. test/support/moto.ts starts
# <venv>/bin/moto_server from exactly this path, so both must agree on it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=/dev/null
. "$here/versions.env"
: "${KFM_MOTO_VERSION:?install-moto: KFM_MOTO_VERSION is missing from versions.env}"
CACHE="${KFM_PEERS_CACHE:-$HOME/.cache/kfm-test-peers}"
dir="$CACHE/moto-$KFM_MOTO_VERSION"
venv="$dir/venv"
PYTHON="${PYTHON:-python3}"

fail() { echo "install-moto: $*" >&2; exit 1; }
command -v "$PYTHON" >/dev/null || fail "$PYTHON is missing (need Python >= 3.9 with the venv module)"

# A venv is reused only if it has moto_server and its python reports the pinned moto version: a
# half-finished install (interrupted pip) must not pass for a good one. (moto_server has no --version.)
installed_version() {
  "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true
}
if [ -x "$venv/bin/moto_server" ] && [ "$(installed_version)" = "$KFM_MOTO_VERSION" ]; then
  echo "install-moto: moto $KFM_MOTO_VERSION cached ($venv)"
  exit 0
fi

t0=$SECONDS
# A venv's scripts carry its absolute path in their shebang, so it is built in place (not renamed into
# place); the version check above is what tells a finished install from an interrupted one.
rm -rf "$dir"
mkdir -p "$dir"
"$PYTHON" -m venv "$venv" || fail "could not create a venv with $PYTHON at $venv (Debian: apt-get install python3-venv)"
if ! "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$KFM_MOTO_VERSION" >"$dir/pip.log" 2>&1; then
  cat "$dir/pip.log" >&2
  rm -rf "$dir"
  fail "pip install moto[server]==$KFM_MOTO_VERSION failed (log above)"
fi
got="$(installed_version)"
if [ "$got" != "$KFM_MOTO_VERSION" ]; then
  rm -rf "$dir"
  fail "the venv reports moto version '${got:-none}', expected $KFM_MOTO_VERSION"
fi
echo "install-moto: moto $KFM_MOTO_VERSION installed in $((SECONDS - t0)) s ($venv)"
