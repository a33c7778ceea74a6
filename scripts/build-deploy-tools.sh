#!/usr/bin/env bash
# Builds the deployment tools that the chart tests use, once, into .samx/build/bin (ignored by git):
#   helm           helm.sh/helm/v3/cmd/helm                          (go install, pinned)
#   helm-unittest  github.com/helm-unittest/helm-unittest/cmd/helm-unittest (pinned; run directly, not as a plugin)
#   samx-dockerlint tests/deploy/dockerlint (BuildKit's Dockerfile parser and linter + SAM-X rules)
# Idempotent: a tool whose pinned version is already built is left alone. Needs Go >= 1.26 and the Go
# module proxy (or a warm module cache). Re-running it takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v3.22.0
HELM_UNITTEST_VERSION=v1.1.2
# The Kubernetes version helm assumes without a cluster (`helm template`, `helm lint`): helm's own Makefile
# sets it from its client-go (v0.37 for helm v3.22); `go install` alone would leave helm's fallback, 1.20.
HELM_K8S_MINOR=37

BIN="$PWD/.samx/build/bin"
STAMPS="$PWD/.samx/build/stamps"
mkdir -p "$BIN" "$STAMPS"

say() { printf '\033[1m[deploy-tools +%ss]\033[0m %s\n' "$SECONDS" "$*"; }

if ! command -v go >/dev/null; then
  say "Go >= 1.26 is needed (https://go.dev/doc/install)"; exit 1
fi

# build NAME VERSION PACKAGE [LDFLAGS]: go install PACKAGE@VERSION into $BIN unless the stamp says it is there
build() {
  local name=$1 version=$2 pkg=$3 ldflags="-s -w ${4:-}" stamp="$STAMPS/$1"
  if [ -x "$BIN/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg@$version $ldflags" ]; then
    say "$name $version already built ($BIN/$name)"
    return
  fi
  say "building $name: go install $pkg@$version (a few minutes the first time)"
  local start=$SECONDS
  GOBIN="$BIN" CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" "$pkg@$version"
  echo "$pkg@$version $ldflags" >"$stamp"
  say "built $BIN/$name in $((SECONDS - start)) s"
}

# build_module NAME VERSION MODULE PACKAGE_DIR: for modules whose go.mod has replace directives, which
# `go install pkg@version` refuses: download the module, build inside it (its go.mod and go.sum apply).
build_module() {
  local name=$1 version=$2 module=$3 pkgdir=$4 stamp="$STAMPS/$1"
  if [ -x "$BIN/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$module@$version" ]; then
    say "$name $version already built ($BIN/$name)"
    return
  fi
  say "building $name: $module@$version ($pkgdir; a few minutes the first time)"
  local start=$SECONDS dir
  dir=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  (cd "$dir" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$BIN/$name" "$pkgdir")
  echo "$module@$version" >"$stamp"
  say "built $BIN/$name in $((SECONDS - start)) s"
}

build helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm \
  "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
   -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_K8S_MINOR \
   -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM_K8S_MINOR"
build_module helm-unittest "$HELM_UNITTEST_VERSION" github.com/helm-unittest/helm-unittest ./cmd/helm-unittest

# The Dockerfile linter is ours (tests/deploy/dockerlint, its own go.mod with go.sum); rebuilt when its
# sources change.
lint_src=tests/deploy/dockerlint
if [ -d "$lint_src" ]; then
  sum=$(cat "$lint_src"/go.mod "$lint_src"/go.sum "$lint_src"/*.go | sha256sum | cut -c1-16)
  if [ -x "$BIN/samx-dockerlint" ] && [ "$(cat "$STAMPS/samx-dockerlint" 2>/dev/null)" = "$sum" ]; then
    say "samx-dockerlint already built ($BIN/samx-dockerlint)"
  else
    say "building samx-dockerlint from $lint_src"
    (cd "$lint_src" && CGO_ENABLED=0 go build -trimpath -mod=readonly -o "$BIN/samx-dockerlint" .)
    echo "$sum" >"$STAMPS/samx-dockerlint"
  fi
fi

"$BIN/helm" version --short
