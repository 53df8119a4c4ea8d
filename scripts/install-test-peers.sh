#!/usr/bin/env bash
# The real peers the tests run against, from Debian's packages: CNCF distribution
# (docker-registry) and htpasswd for its auth; unzip to read the Lambda packages. kubectl (Kubernetes' own strategic
# merge patch and `create secret docker-registry`) must already be on the machine.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends docker-registry apache2-utils unzip >/dev/null
# The package starts a registry service on :5000; the tests start their own on free ports.
$SUDO systemctl disable --now docker-registry >/dev/null 2>&1 || true
command -v docker-registry >/dev/null && command -v htpasswd >/dev/null && command -v unzip >/dev/null
if ! command -v kubectl >/dev/null; then
  echo "kubectl is missing: the tests check patches and pull Secrets against kubectl itself" >&2
  exit 1
fi
echo "test peers: $(docker-registry --version 2>&1 | head -1); htpasswd; $(kubectl version --client 2>/dev/null | head -1)"
