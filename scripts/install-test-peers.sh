#!/usr/bin/env bash
# The real peers the tests run against:
# - from Debian's packages: CNCF distribution (docker-registry), htpasswd for its auth, openssl for the
#   control plane's certificates, unzip to read the Lambda packages;
# - built from the Go module proxy (cached outside the repo): the Kubernetes control plane, etcd, kwok, kubectl;
# - from PyPI into a venv (cached outside the repo): moto in server mode, for the AWS APIs.
# Versions: scripts/test-peers/versions.env.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends docker-registry apache2-utils unzip openssl python3-venv >/dev/null
# The package starts a registry service on :5000; the tests start their own on free ports.
$SUDO systemctl disable --now docker-registry >/dev/null 2>&1 || true
for tool in docker-registry htpasswd unzip openssl; do
  command -v "$tool" >/dev/null || { echo "install-test-peers: $tool is missing after apt-get install" >&2; exit 1; }
done
bash "$here/test-peers/build-control-plane.sh"
bash "$here/test-peers/install-moto.sh"
echo "test peers: $(docker-registry --version 2>&1 | head -1); htpasswd; $(openssl version)"
