#!/usr/bin/env bash
# Creates the kind cluster (if absent), installs KubeRay, builds and loads the images, creates the
# Secrets with random values (if absent: S3 keys, PostgreSQL password, a labeling admin token, the
# serving token the sort sends, the ingest pseudonym key), and
# installs the chart with ci/kind-values.yaml; waits for every rollout and for the serving RayService.
# Idempotent: re-running upgrades the release.
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

if ! kube -n "$NAMESPACE" get secret samx-postgresql >/dev/null 2>&1; then
  say "creating Secret samx-postgresql with a random password (dev PostgreSQL and the labeling service)"
  kube -n "$NAMESPACE" create secret generic samx-postgresql --from-literal=password="$(openssl rand -hex 24)"
fi
if ! kube -n "$NAMESPACE" get secret samx-labeling-tokens >/dev/null 2>&1; then
  say "creating Secret samx-labeling-tokens: one random admin token (k8s/e2e.sh reads it back)"
  kube -n "$NAMESPACE" create secret generic samx-labeling-tokens \
    --from-literal=tokens.json="{\"$(openssl rand -hex 24)\": {\"user\": \"kind-admin\", \"role\": \"admin\"}}"
fi

if ! kube -n "$NAMESPACE" get secret samx-serving-tokens >/dev/null 2>&1; then
  say "creating Secret samx-serving-tokens: one random token of the serving API, sent by the sort (k8s/e2e.sh reads it back)"
  serving_token="$(openssl rand -hex 24)"
  kube -n "$NAMESPACE" create secret generic samx-serving-tokens \
    --from-literal=tokens.json="{\"$serving_token\": {\"user\": \"serving-sort\", \"role\": \"viewer\"}}" \
    --from-literal=client-token="$serving_token"
fi

if ! kube -n "$NAMESPACE" get secret samx-ingest-deid >/dev/null 2>&1; then
  say "creating Secret samx-ingest-deid: the key of the ingest pseudonyms (kept across upgrades)"
  kube -n "$NAMESPACE" create secret generic samx-ingest-deid --from-literal=secret="$(openssl rand -hex 32)"
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
# KubeRay reports the Serve application's health on the RayService (pulling the Ray image is the slow part)
say "waiting for rayservice/$RELEASE-serving (Ready)"
kube -n "$NAMESPACE" wait "rayservice/$RELEASE-serving" --for=condition=Ready --timeout=900s
kube -n "$NAMESPACE" get pods -o wide
say "deployed; run k8s/e2e.sh"
