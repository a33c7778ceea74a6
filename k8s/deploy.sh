#!/usr/bin/env bash
# Creates the kind cluster (if absent), installs KubeRay, builds and loads the images, creates the S3
# Secret with random keys (if absent), and installs the chart with ci/kind-values.yaml; waits for every
# rollout. Idempotent: re-running upgrades the release.
set -euo pipefail
# shellcheck source=k8s/lib.sh
source "$(dirname "$0")/lib.sh"
need docker kind kubectl openssl

cd "$REPO_ROOT"
if ! kind get clusters | grep -qx "$CLUSTER"; then
  say "kind create cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --config k8s/kind-config.yaml --wait 120s
fi

if [ "${SAMX_SKIP_KUBERAY:-0}" != 1 ]; then
  k8s/install-kuberay.sh
fi
if [ "${SAMX_SKIP_IMAGES:-0}" != 1 ]; then
  k8s/build-and-load-images.sh
fi

kube get namespace "$NAMESPACE" >/dev/null 2>&1 || kube create namespace "$NAMESPACE"
if ! kube -n "$NAMESPACE" get secret samx-s3 >/dev/null 2>&1; then
  say "creating Secret samx-s3 with random keys (dev MinIO root user and the services' S3 keys)"
  kube -n "$NAMESPACE" create secret generic samx-s3 \
    --from-literal=access-key="samx-$(openssl rand -hex 6)" \
    --from-literal=secret-key="$(openssl rand -hex 24)"
fi

say "helm dependency build charts/samx (kuberay-operator, off in the kind values)"
"$HELM" dependency build charts/samx

say "helm upgrade --install $RELEASE (namespace $NAMESPACE, charts/samx/ci/kind-values.yaml)"
"$HELM" upgrade --install "$RELEASE" charts/samx \
  --kube-context "kind-$CLUSTER" --namespace "$NAMESPACE" \
  -f charts/samx/ci/kind-values.yaml \
  --set global.image.repository="$IMAGE_REPOSITORY" --set global.image.tag="$IMAGE_TAG" \
  --wait --wait-for-jobs --timeout 10m

for workload in $(kube -n "$NAMESPACE" get deployments,statefulsets -l "app.kubernetes.io/instance=$RELEASE" -o name); do
  kube -n "$NAMESPACE" rollout status "$workload" --timeout=300s
done
kube -n "$NAMESPACE" get pods -o wide
say "deployed; run k8s/e2e.sh"
