#!/usr/bin/env bash
# npm run invoke -- <function> <event-file>: one sample event through one function (osls invoke local).
# Local by default: the directory target, offline (the event's digest is taken as is), the samples' secret.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: npm run invoke -- <push|config|status> <event-file>   e.g. npm run invoke -- push events/push-harbor.json" >&2
  exit 2
fi
# Absolute: osls runs the bundled handler from .esbuild/.build.
export KFM_TARGET="${KFM_TARGET:-dir:$PWD/.kfm}"
export KFM_OFFLINE="${KFM_OFFLINE:-true}"
export KFM_WEBHOOK_SECRET="${KFM_WEBHOOK_SECRET:-local-dev-secret-0123456789}"
# Each provider's sample names its own registry: unless KFM_IMAGE is set, track the image it pushes
# (semver policy, so its v0.1.9 counts), in a directory of its own so the samples do not mix.
sample="$(basename "$2" .json)"
image=""
case "$sample" in
  push-dockerhub) image=docker.io/kubeflowimages/metadata ;;
  push-harbor) image=harbor.example.com/kubeflow-images-public/metadata ;;
  push-quay) image=quay.io/kubeflow-images-public/metadata ;;
  push-acr) image=kubeflow.azurecr.io/kubeflow-images-public/metadata ;;
  push-ghcr) image=ghcr.io/kubeflow-images-public/metadata ;;
  push-ecr) image=123456789012.dkr.ecr.eu-west-1.amazonaws.com/kubeflow/metadata ;;
  push-generic) image=gcr.io/kubeflow-images-public/metadata ;;
esac
if [ -n "$image" ] && [ -z "${KFM_IMAGE:-}" ]; then
  export KFM_IMAGE="$image:v0.1.8" KFM_TAG_POLICY="${KFM_TAG_POLICY:-semver:>=0.1.8}"
  export KFM_TARGET="dir:$PWD/.kfm/$sample"
  echo "invoke: KFM_IMAGE=$KFM_IMAGE KFM_TAG_POLICY=$KFM_TAG_POLICY KFM_TARGET=$KFM_TARGET" >&2
fi
export AWS_EC2_METADATA_DISABLED=true
export SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off
exec npx --no-install osls invoke local --function "$1" --path "$2"
