#!/usr/bin/env bash
# Shared by the k8s/ scripts (sourced): names, pinned versions, helpers. Override by environment.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
CLUSTER="${SAMX_KIND_CLUSTER:-samx}"
NAMESPACE="${SAMX_K8S_NAMESPACE:-samx}"
RELEASE="${SAMX_HELM_RELEASE:-samx}"
IMAGE_REPOSITORY="${SAMX_IMAGE_REPOSITORY:-samx}"
IMAGE_TAG="${SAMX_IMAGE_TAG:-0.1.0}"
KUBERAY_VERSION="1.7.0"
RAY_VERSION="2.60.0"  # uv.lock's ray; the Ray images' base tag
KUBERAY_REPO="https://ray-project.github.io/kuberay-helm/"
export CLUSTER NAMESPACE RELEASE IMAGE_REPOSITORY IMAGE_TAG KUBERAY_VERSION KUBERAY_REPO RAY_VERSION

# helm: the pinned one that scripts/build-deploy-tools.sh builds, else the one on PATH
if [ -x "$REPO_ROOT/.samx/build/bin/helm" ]; then
  HELM="$REPO_ROOT/.samx/build/bin/helm"
else
  HELM="$(command -v helm || true)"
fi
export HELM

say() { printf '\033[1m[k8s]\033[0m %s\n' "$*"; }

need() {
  local tool
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null; then
      say "missing: $tool (see k8s/README.md)"; exit 1
    fi
  done
  if [ -z "$HELM" ]; then
    say "missing: helm (scripts/build-deploy-tools.sh builds it)"; exit 1
  fi
}

kube() { kubectl --context "kind-$CLUSTER" "$@"; }
