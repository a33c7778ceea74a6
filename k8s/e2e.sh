#!/usr/bin/env bash
# Runs the e2e pytest suite against the chart installed by k8s/deploy.sh: port-forwards the dev Kafka
# (its 127.0.0.1 listener), MinIO, the C-STORE receiver, a worker's health port, the labeling API and
# the Serve endpoint to loopback, sets the SAMX_* environment to them (SAMX_E2E_TARGET=kind), runs
# pytest on e2e/, and stops the port-forwards.
# Extra arguments go to pytest, e.g. k8s/e2e.sh -k ingest.
set -euo pipefail
# shellcheck source=k8s/lib.sh
source "$(dirname "$0")/lib.sh"
need kubectl uv

cd "$REPO_ROOT"
KAFKA_PORT="${SAMX_E2E_KAFKA_PORT:-29092}"  # must match kafka.dev.portForwardListener.port
S3_PORT="${SAMX_E2E_S3_PORT:-19000}"
CSTORE_PORT="${SAMX_E2E_CSTORE_PORT:-11112}"
HEALTH_PORT="${SAMX_E2E_HEALTH_PORT:-18081}"
LABELING_PORT="${SAMX_E2E_LABELING_PORT:-18090}"
SERVING_PORT="${SAMX_E2E_SERVING_PORT:-18000}"
LOGS="$(mktemp -d)"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$LOGS"
}
trap cleanup EXIT

forward() {  # forward RESOURCE LOCAL:REMOTE
  local name="${1//\//-}"
  kube -n "$NAMESPACE" port-forward "$1" "$2" --address 127.0.0.1 >"$LOGS/$name.log" 2>&1 &
  pids+=("$!")
}
forward "statefulset/$RELEASE-kafka" "$KAFKA_PORT:$KAFKA_PORT"
forward "service/$RELEASE-minio" "$S3_PORT:9000"
forward "service/$RELEASE-ingest-cstore" "$CSTORE_PORT:11112"
forward "deployment/$RELEASE-ingest-worker" "$HEALTH_PORT:8081"
forward "service/$RELEASE-labeling" "$LABELING_PORT:8090"
forward "service/$RELEASE-serving-serve-svc" "$SERVING_PORT:8000"

say "waiting for the port-forwards"
for port in "$KAFKA_PORT" "$S3_PORT" "$CSTORE_PORT" "$HEALTH_PORT" "$LABELING_PORT" "$SERVING_PORT"; do
  for _ in $(seq 1 60); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue 2; fi
    sleep 1
  done
  say "port $port did not open; port-forward logs:"; cat "$LOGS"/*.log; exit 1
done

SAMX_S3_ACCESS_KEY="$(kube -n "$NAMESPACE" get secret samx-s3 -o jsonpath='{.data.access-key}' | base64 -d)"
SAMX_S3_SECRET_KEY="$(kube -n "$NAMESPACE" get secret samx-s3 -o jsonpath='{.data.secret-key}' | base64 -d)"
export SAMX_S3_ACCESS_KEY SAMX_S3_SECRET_KEY
export SAMX_E2E_TARGET=kind
export SAMX_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT"
export SAMX_S3_ENDPOINT="127.0.0.1:$S3_PORT"
export SAMX_S3_SECURE=false
export SAMX_E2E_CSTORE="127.0.0.1:$CSTORE_PORT"
export SAMX_E2E_INGEST_HEALTH="http://127.0.0.1:$HEALTH_PORT"
export SAMX_E2E_LABELING_URL="http://127.0.0.1:$LABELING_PORT"
export SAMX_E2E_SERVING_URL="http://127.0.0.1:$SERVING_PORT"
# the admin token deploy.sh put into the labeling tokens Secret (the first key of its JSON)
SAMX_E2E_LABELING_TOKEN="$(kube -n "$NAMESPACE" get secret samx-labeling-tokens -o jsonpath='{.data.tokens\.json}' \
  | base64 -d | uv run python -c 'import json, sys; print(next(iter(json.load(sys.stdin))))')"
export SAMX_E2E_LABELING_TOKEN
# the serving token deploy.sh made (the one the sort sends): serving answers /v1 only to a known token
SAMX_E2E_SERVING_TOKEN="$(kube -n "$NAMESPACE" get secret samx-serving-tokens -o jsonpath='{.data.client-token}' | base64 -d)"
export SAMX_E2E_SERVING_TOKEN
# phase 1/2 run as RayJobs in the cluster: the suite submits them through the launcher
# (kubectl exec deploy/$RELEASE-trainer-launcher -- samx-trainer launch phase1 --run-id ...)
export SAMX_E2E_KUBE_CONTEXT="kind-$CLUSTER" SAMX_E2E_NAMESPACE="$NAMESPACE" SAMX_E2E_RELEASE="$RELEASE"

say "pytest e2e against kind-$CLUSTER/$NAMESPACE (Kafka $SAMX_KAFKA_BOOTSTRAP_SERVERS, S3 $SAMX_S3_ENDPOINT)"
uv run pytest e2e -p no:cacheprovider "$@"
