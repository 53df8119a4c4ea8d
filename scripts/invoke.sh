#!/usr/bin/env bash
# npm run invoke -- <intake|worker|status> <event-file>: one event through one function (osls invoke local).
#   intake  a webhook sample: events/push-<provider>.json (not push-ecr), events/config*.json
#   worker  what the queue delivers: events/worker-push.json (an SQS batch of one command), or an
#           EventBridge event the worker takes directly: events/push-ecr.json, events/refresh.json
#   status  events/status.json
# Local by default: the directory target (.kfm/), offline (the event's digest is taken as is), the
# samples' credentials (events/local-credentials.json), and no KFM_QUEUE_URL, so intake's in-process
# queue and worker apply the command in the same process. After osls's own output, one
# `invoke: step …` line per step says what the step did
# (outcome, status, changes: the worker's `step done` log line); KFM_INVOKE_REPORT=full prints each
# step's whole report (flags, resources, status history) as well.
#
# The functions (names and handlers) are read from serverless.yml, but invoked from a scratch copy of
# the service with a template of those functions only: the deployment template resolves its settings
# for a deployment (KFM_TARGET=kubernetes, KFM_SECRETS_FROM, the queue's Ref), which `invoke local`
# would apply over the local environment. The bundles are built exactly as for a package
# (esbuild.config.cjs), in the scratch copy, so parallel invokes do not share a build folder.
set -euo pipefail

usage() {
  echo "usage: npm run invoke -- <intake|worker|status> <event-file>" >&2
  echo "  e.g. npm run invoke -- intake events/push-harbor.json; npm run invoke -- worker events/worker-push.json" >&2
  exit 2
}
[ $# -eq 2 ] || usage
fn="$1"
event="$2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -f "$event" ] || { echo "invoke: no such event file: $event" >&2; exit 2; }
event_path="$(cd "$(dirname "$event")" && pwd)/$(basename "$event")"
sample="$(basename "$event" .json)"

# The functions of serverless.yml: `  <name>:` then `    handler: <file>.<export>`.
functions="$(awk '/^functions:/ { on = 1; next } on && /^[^ #]/ { on = 0 } on && /^  [A-Za-z0-9_-]+:/ { name = $1 } on && /^    handler:/ { print substr(name, 1, length(name) - 1), $2 }' "$root/serverless.yml")"
handler="$(awk -v fn="$fn" '$1 == fn { print $2 }' <<<"$functions")"
if [ -z "$handler" ]; then
  echo "invoke: no function \"$fn\" in serverless.yml (it has: $(awk '{ printf "%s ", $1 }' <<<"$functions"))" >&2
  usage
fi

# Each sample belongs to one function: say so instead of answering 400 or refusing the message.
case "$fn:$sample" in
  intake:push-ecr | intake:refresh | intake:worker-*) echo "invoke: $event is what the queue delivers, not a webhook: npm run invoke -- worker $event" >&2; exit 2 ;;
  intake:status) echo "invoke: $event is GET /status: npm run invoke -- status $event" >&2; exit 2 ;;
  worker:push-ecr | worker:refresh | worker:worker-*) ;;
  worker:push-* | worker:config*) echo "invoke: $event is a webhook: npm run invoke -- intake $event (the worker takes events/worker-push.json, push-ecr.json, refresh.json)" >&2; exit 2 ;;
  status:push-* | status:config* | status:refresh | status:worker-*) echo "invoke: $event is not a GET /status request: use events/status.json" >&2; exit 2 ;;
esac

# Absolute: osls runs the bundled handler from the scratch copy's .esbuild/.build.
export KFM_TARGET="${KFM_TARGET:-dir:$PWD/.kfm}"
case "$KFM_TARGET" in dir:/*) ;; dir:*) KFM_TARGET="dir:$PWD/${KFM_TARGET#dir:}" ;; esac
export KFM_OFFLINE="${KFM_OFFLINE:-true}"
# The credentials the samples carry, one per power (events/local-credentials.json), unless set.
while IFS='=' read -r name value; do
  [ -n "${!name:-}" ] || export "$name=$value"
done < <(node -e 'for (const [k, v] of Object.entries(require(process.argv[1]))) console.log(`${k}=${v}`)' "$root/events/local-credentials.json")
# Each provider's sample names its own registry: unless KFM_IMAGE is set, track the image it pushes
# (semver policy, so its v0.1.9 counts), in a directory of its own so the samples do not mix.
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
if [ -n "${KFM_QUEUE_URL:-}" ]; then
  echo "invoke: KFM_QUEUE_URL=$KFM_QUEUE_URL: intake sends to that SQS queue (unset it for the in-process queue and worker)" >&2
fi
export AWS_EC2_METADATA_DISABLED=true
export SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off

scratch="$(mktemp -d "${TMPDIR:-/tmp}/kfm-invoke-XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
# Copies, not links: esbuild.options.cjs builds the chunks beside the bundle, relative to its own folder.
for entry in package.json tsconfig.json esbuild.config.cjs esbuild.options.cjs handlers src; do cp -R "$root/$entry" "$scratch/$entry"; done
ln -s "$root/node_modules" "$scratch/node_modules"

invoked="$handler"
if [ "${KFM_INVOKE_REPORT:-}" = full ] && [ "$fn" = worker ]; then
  # The worker as the real handler builds it, its deployer wrapped to print each step's whole report.
  cat >"$scratch/handlers/invoke-worker-report.ts" <<'EOF'
import type { Context } from 'aws-lambda';
import { createWorkerHandler } from './worker.js';
import { lazyDeployer } from '../src/app/runtime.js';
import { processDefaults } from '../src/app/process-defaults.js';

let built: ReturnType<typeof createWorkerHandler> | undefined;
export async function handler(event: unknown, context: Context) {
  if (!built) {
    const { settings, logger } = processDefaults();
    const deployer = lazyDeployer(settings, logger);
    built = createWorkerHandler(settings, {
      logger,
      deployer: async () => {
        const real = await deployer();
        return {
          ...real,
          async run(...args: Parameters<typeof real.run>) {
            const report = await real.run(...args);
            process.stdout.write(`invoke: report ${JSON.stringify(report, null, 2)}\n`);
            return report;
          },
        };
      },
    });
  }
  return built(event, context);
}
EOF
  invoked="handlers/invoke-worker-report.handler"
fi
cat >"$scratch/serverless.yml" <<EOF
# Generated by scripts/invoke.sh for one \`osls invoke local\`: the functions of serverless.yml, local settings.
service: kubeflow-metadata-deployer
provider:
  name: aws
  runtime: nodejs22.x
  region: ${AWS_REGION:-eu-west-1}
functions:
  $fn:
    handler: $invoked
plugins:
  - serverless-esbuild
custom:
  esbuild:
    config: ./esbuild.config.cjs
    skipRebuild: true # without it, a handler that fails to load makes \`invoke local\` hang
EOF

# osls's output as it comes, then one line per step from the worker's `step done` / `step failed` lines.
summarise() {
  node -e '
    const lines = [];
    const rl = require("node:readline").createInterface({ input: process.stdin });
    rl.on("line", (line) => { process.stdout.write(`${line}\n`); lines.push(line); });
    rl.on("close", () => {
      const entries = lines.flatMap((line) => { try { const e = JSON.parse(line); return e && typeof e.message === "string" ? [e] : []; } catch { return []; } });
      for (const e of entries) {
        if (e.message === "step done") {
          const changes = (e.changes ?? []).map((c) => `${c.kind} ${c.name} ${c.outcome}`).join(", ") || "none";
          const status = e.status ? `${e.status.state}${e.status.message ? ` "${e.status.message}"` : ""}` : "?";
          console.log(`invoke: step ${e.id}: ${e.outcome}${e.reason ? ` (${e.reason})` : ""}; status ${status}; changes: ${changes}`);
        } else if (e.message === "step failed") {
          console.log(`invoke: step ${e.id}: failed (${e.reason}); the queue would deliver it again`);
        } else if (e.message === "queue message refused") {
          console.log(`invoke: message ${e.messageId} refused: ${e.reason}`);
        }
      }
    });'
}
cd "$scratch"
"$root/node_modules/.bin/osls" invoke local --function "$fn" --path "$event_path" 2>&1 | summarise
