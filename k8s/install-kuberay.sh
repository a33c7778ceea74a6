#!/usr/bin/env bash
# Installs the KubeRay operator (the version of the CRDs in ../shared/k8s-crds) into the kind cluster,
# in its own namespace, once per cluster. Idempotent (helm upgrade --install).
set -euo pipefail
# shellcheck source=k8s/lib.sh
source "$(dirname "$0")/lib.sh"
need kubectl

say "KubeRay operator $KUBERAY_VERSION into namespace kuberay-system (context kind-$CLUSTER)"
"$HELM" repo add kuberay "$KUBERAY_REPO" --force-update >/dev/null
"$HELM" upgrade --install kuberay-operator kuberay/kuberay-operator \
  --kube-context "kind-$CLUSTER" \
  --namespace kuberay-system --create-namespace \
  --version "$KUBERAY_VERSION" \
  --wait --timeout 5m
kube -n kuberay-system rollout status deployment/kuberay-operator --timeout=180s
for crd in rayclusters.ray.io rayjobs.ray.io rayservices.ray.io; do
  kube get crd "$crd" -o name
done
say "KubeRay operator ready"
