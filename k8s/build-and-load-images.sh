#!/usr/bin/env bash
# Builds every service image (services/*/Dockerfile, build context: the repository root) and loads it
# into the kind cluster's nodes, so that the chart's pullPolicy Never finds it.
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
done
if [ "${#built[@]}" -eq 0 ]; then
  say "no services/*/Dockerfile found"; exit 1
fi
say "kind load docker-image ${built[*]} (cluster $CLUSTER)"
kind load docker-image --name "$CLUSTER" "${built[@]}"
