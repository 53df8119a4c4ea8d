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
export AWS_EC2_METADATA_DISABLED=true
export SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off
exec npx --no-install osls invoke local --function "$1" --path "$2"
