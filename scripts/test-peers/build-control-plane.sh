#!/usr/bin/env bash
# Builds the real Kubernetes control plane the tests run (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, etcd, kwok) from the Go module proxy into a cache outside the repository,
# keyed by the versions in versions.env, and reuses it when it is already there.
# k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces its staging modules by path), so a
# throw-away wrapper module requires it and replaces every k8s.io/<staging> module by its v0.<minor>.<patch>.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=/dev/null
. "$here/versions.env"
CACHE="${KFM_PEERS_CACHE:-$HOME/.cache/kfm-test-peers}"
command -v go >/dev/null || { echo "build-control-plane: Go is missing (need go >= 1.26 on PATH: k8s.io/kubernetes v1.36 requires it)" >&2; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
# One build at a time per cache: two at once would write the same $out.tmp (and double the time).
mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
flock -n 9 || { echo "build-control-plane: another build holds $CACHE/.build.lock; waiting for it" >&2; flock 9; }
LDFLAGS="-s -w"

fail_unserved() { echo "build-control-plane: the Go module proxy does not serve $1" >&2; exit 1; }
# Asks the proxy for the pinned module itself first, so an unserved version is named as such.
require_served() { go mod download "$1" >/dev/null 2>&1 || { go mod download "$1" 2>&1 | tail -3 >&2 || true; fail_unserved "$1"; }; }
# A tidy fails for an unserved module or for a Go older than a module's go line: go's message above says which.
fail_tidy() { echo "build-control-plane: resolving the modules of $1 failed (see above: a module not served, or Go $(go env GOVERSION) too old)" >&2; exit 1; }
# The throw-away wrapper modules go, whichever way the script ends.
WORK_DIRS=()
trap 'rm -rf "${WORK_DIRS[@]}"' EXIT
# Sets $SCRATCH (not a $(...) call: a subshell could not record the directory for the trap).
scratch() { SCRATCH="$(mktemp -d)"; WORK_DIRS+=("$SCRATCH"); }
timed() { local name="$1"; shift; local t0=$SECONDS; "$@"; echo "build-control-plane: $name built in $((SECONDS - t0)) s"; }

build_kubernetes() {
  local out="$CACHE/k8s-$KFM_K8S_VERSION/bin" work; scratch; work="$SCRATCH"
  local minor="v0.${KFM_K8S_VERSION#v1.}"
  go mod download -json "k8s.io/kubernetes@$KFM_K8S_VERSION" >"$work/dl.json" 2>&1 || { cat "$work/dl.json" >&2; fail_unserved "k8s.io/kubernetes@$KFM_K8S_VERSION"; }
  local gomod; gomod="$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' "$work/dl.json")"
  ( cd "$work"
    go mod init kfm.local/control-plane >/dev/null 2>&1
    # The imports must exist before the first tidy: a tidy without them drops the pinned require and the
    # next one resolves k8s.io/kubernetes@latest (a newer release whose staging packages v0.<minor> lacks).
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    go mod edit -go="$(sed -n 's/^go //p' "$gomod")" -require="k8s.io/kubernetes@$KFM_K8S_VERSION"
    # Every staging module the release replaces by path gets its published twin.
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}' | sort -u | while read -r m; do
      go mod edit -replace="$m=$m@$minor"
    done
    go mod tidy >/dev/null 2>"$work/tidy.err" || { cat "$work/tidy.err" >&2; fail_tidy "k8s.io/kubernetes@$KFM_K8S_VERSION"; }
    grep -q "k8s.io/kubernetes $KFM_K8S_VERSION\$" go.mod || { echo "build-control-plane: the wrapper resolved another k8s.io/kubernetes than $KFM_K8S_VERSION" >&2; exit 1; }
    mkdir -p "$out.tmp"
    # The version stamps hack/lib/version.sh sets, so `kubectl version` and /version say v1.x.y, not v0.0.0-master.
    local stamp="" minor_number="${KFM_K8S_VERSION#v1.}"; minor_number="${minor_number%%.*}"
    for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
      stamp="$stamp -X $pkg.gitVersion=$KFM_K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor_number -X $pkg.gitTreeState=clean"
    done
    # One go build for all four shares the compile.
    go build -trimpath -ldflags "$LDFLAGS$stamp" -o "$out.tmp/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl )
  rm -rf "$out"; mv "$out.tmp" "$out"; rm -rf "$work"
}

build_etcd() {
  local out="$CACHE/etcd-$KFM_ETCD_VERSION/bin" work; scratch; work="$SCRATCH"
  require_served "go.etcd.io/etcd/server/v3@$KFM_ETCD_VERSION"
  ( cd "$work"
    go mod init kfm.local/etcd >/dev/null 2>&1
    go mod edit -go=1.25 -require="go.etcd.io/etcd/server/v3@$KFM_ETCD_VERSION"
    printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
    go mod tidy >/dev/null 2>"$work/tidy.err" || { cat "$work/tidy.err" >&2; fail_tidy "go.etcd.io/etcd/server/v3@$KFM_ETCD_VERSION"; }
    mkdir -p "$out.tmp"
    go build -trimpath -ldflags "$LDFLAGS" -o "$out.tmp/etcd" go.etcd.io/etcd/server/v3 )
  rm -rf "$out"; mv "$out.tmp" "$out"; rm -rf "$work"
}

build_kwok() {
  local out="$CACHE/kwok-$KFM_KWOK_VERSION" work; scratch; work="$SCRATCH"
  require_served "sigs.k8s.io/kwok@$KFM_KWOK_VERSION"
  ( cd "$work"
    go mod init kfm.local/kwok >/dev/null 2>&1
    printf '//go:build tools\n\npackage tools\n\nimport _ "sigs.k8s.io/kwok/cmd/kwok"\n' > tools.go
    go mod edit -go=1.25 -require="sigs.k8s.io/kwok@$KFM_KWOK_VERSION"
    go mod tidy >/dev/null 2>"$work/tidy.err" || { cat "$work/tidy.err" >&2; fail_tidy "sigs.k8s.io/kwok@$KFM_KWOK_VERSION"; }
    mkdir -p "$out.tmp/bin"
    go build -trimpath -ldflags "$LDFLAGS" -o "$out.tmp/bin/kwok" sigs.k8s.io/kwok/cmd/kwok )
  rm -rf "$out/bin"; mkdir -p "$out"; mv "$out.tmp/bin" "$out/bin"; rm -rf "$out.tmp" "$work"
}

# kwok alone exits "no stages found". These are exactly the files of its own kustomize/stage/fast set
# (node/fast + node/heartbeat-with-lease + pod/fast): the node turns Ready and keeps its Lease, pods go
# Running/Ready at once and are removed when deleted. Copied each run (cheap) so a stale set is replaced.
KWOK_STAGES="node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml"
install_kwok_stages() {
  local src; src="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KFM_KWOK_VERSION/kustomize/stage"
  [ -d "$src" ] || require_served "sigs.k8s.io/kwok@$KFM_KWOK_VERSION"
  local dest="$CACHE/kwok-$KFM_KWOK_VERSION/stages"
  rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
  for f in $KWOK_STAGES; do
    [ -f "$src/$f" ] || { echo "build-control-plane: kwok $KFM_KWOK_VERSION has no stage $f" >&2; exit 1; }
    cp "$src/$f" "$dest.tmp/"
  done
  chmod -R u+w "$dest.tmp"; rm -rf "$dest"; mv "$dest.tmp" "$dest"
}

# The Stage CRD: test/support/control-plane.ts applies it and runs kwok with --enable-crds=Stage (its stages
# are then Stage objects a test can add to). Added to a cached kwok dir that lacks it, without a rebuild.
KWOK_CRD="kwok.x-k8s.io_stages.yaml"
install_kwok_crd() {
  local dest="$CACHE/kwok-$KFM_KWOK_VERSION/crd"
  [ -f "$dest/$KWOK_CRD" ] && return 0
  local src; src="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KFM_KWOK_VERSION/kustomize/crd/bases/$KWOK_CRD"
  [ -f "$src" ] || require_served "sigs.k8s.io/kwok@$KFM_KWOK_VERSION"
  [ -f "$src" ] || { echo "build-control-plane: kwok $KFM_KWOK_VERSION has no $KWOK_CRD" >&2; exit 1; }
  rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
  cp "$src" "$dest.tmp/"
  chmod -R u+w "$dest.tmp"; rm -rf "$dest"; mv "$dest.tmp" "$dest"
  echo "build-control-plane: kwok $KFM_KWOK_VERSION Stage CRD installed"
}

[ -x "$CACHE/etcd-$KFM_ETCD_VERSION/bin/etcd" ] && echo "build-control-plane: etcd $KFM_ETCD_VERSION cached" || timed "etcd $KFM_ETCD_VERSION" build_etcd
[ -x "$CACHE/kwok-$KFM_KWOK_VERSION/bin/kwok" ] && echo "build-control-plane: kwok $KFM_KWOK_VERSION cached" || timed "kwok $KFM_KWOK_VERSION" build_kwok
install_kwok_stages
install_kwok_crd
k8s="$CACHE/k8s-$KFM_K8S_VERSION/bin"
# (Output captured first: under pipefail, grep -q closing the pipe early would fail kubectl with SIGPIPE.)
stamped() { local v; v="$("$k8s/kubectl" version --client 2>/dev/null)" || return 1; grep -q "Client Version: $KFM_K8S_VERSION\$" <<<"$v"; }
if [ -x "$k8s/kube-apiserver" ] && [ -x "$k8s/kube-scheduler" ] && [ -x "$k8s/kube-controller-manager" ] && [ -x "$k8s/kubectl" ] && stamped; then
  echo "build-control-plane: kubernetes $KFM_K8S_VERSION cached"
else
  timed "kubernetes $KFM_K8S_VERSION (apiserver, controller-manager, scheduler, kubectl)" build_kubernetes
fi
stamped || { echo "build-control-plane: $k8s/kubectl does not report $KFM_K8S_VERSION" >&2; exit 1; }
"$CACHE/etcd-$KFM_ETCD_VERSION/bin/etcd" --version >/dev/null
"$CACHE/kwok-$KFM_KWOK_VERSION/bin/kwok" --version >/dev/null
echo "build-control-plane: ready in $CACHE"
