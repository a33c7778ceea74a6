#!/usr/bin/env bash
# Builds every service image (services/*/Dockerfile, build context: the repository root) and loads it
# into the kind cluster's nodes, so that the chart's pullPolicy Never finds it. The Ray images (trainer,
# serving) are the CPU variant; SAMX_GPU_IMAGES=1 also builds <service>-gpu (not loaded: kind has no GPU).
set -euo pipefail
# shellcheck source=k8s/lib.sh
source "$(dirname "$0")/lib.sh"
need docker kind

cd "$REPO_ROOT"
built=()
for dockerfile in services/*/Dockerfile; do
  service="$(basename "$(dirname "$dockerfile")")"
  image="$IMAGE_REPOSITORY/$service:$IMAGE_TAG"
  say "docker build $image ($dockerfile)"
  docker build --file "$dockerfile" --tag "$image" .
  built+=("$image")
  # the CUDA variant of the Ray images (<service>-gpu), for a GPU cluster: SAMX_GPU_IMAGES=1
  if [ "${SAMX_GPU_IMAGES:-0}" = 1 ] && grep -q '^ARG RAY_IMAGE=' "$dockerfile"; then
    say "docker build $IMAGE_REPOSITORY/$service-gpu:$IMAGE_TAG (CUDA Ray base)"
    docker build --file "$dockerfile" --build-arg "RAY_IMAGE=rayproject/ray:$RAY_VERSION-py311-gpu" \
      --tag "$IMAGE_REPOSITORY/$service-gpu:$IMAGE_TAG" .
  fi
done
if [ "${#built[@]}" -eq 0 ]; then
  say "no services/*/Dockerfile found"; exit 1
fi
say "kind load docker-image ${built[*]} (cluster $CLUSTER)"
kind load docker-image --name "$CLUSTER" "${built[@]}"
