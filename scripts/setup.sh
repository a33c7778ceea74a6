#!/usr/bin/env bash
# One-time (and idempotent) set-up of a fresh machine for SAM-X: toolchains, the Python workspace, and
# the local stack's programs (Kafka jars by Maven, MinIO by go install). Re-running it takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup +%ss]\033[0m %s\n' "$SECONDS" "$*"; }

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: $*"
    if [ ! -f /tmp/.samx-apt-updated ]; then apt-get update -qq && touch /tmp/.samx-apt-updated; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    say "missing: $* (install them with your package manager, then re-run)"; exit 1
  fi
}

command -v java >/dev/null || apt_install openjdk-17-jre-headless
command -v mvn >/dev/null || apt_install maven
if ! command -v go >/dev/null; then
  say "Go >= 1.26 is needed to build the MinIO server and the deployment tools (https://go.dev/doc/install, or your distribution's golang package)"
  exit 1
fi

# The deployment tools are compiled (minutes on a fresh machine, CPU-bound) while the Python workspace and
# the Debian packages download (network-bound); their output goes to a log, shown if the build fails.
mkdir -p .samx/build
say "deployment tools (helm, helm-unittest, samx-dockerlint; built once into .samx/build/bin) in the background: .samx/build/deploy-tools.log"
./scripts/build-deploy-tools.sh >.samx/build/deploy-tools.log 2>&1 &
deploy_tools=$!
trap 'kill "$deploy_tools" 2>/dev/null || true' EXIT  # a set-up that stops early stops the build too

if ! command -v uv >/dev/null; then
  say "installing uv from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check uv
fi
say "python workspace (uv sync --locked, compiled to bytecode)"
# Bytecode at install, as uv advises for images: by default uv leaves compiling to the first import, and
# where PYTHONDONTWRITEBYTECODE is set (CI images set it) no import ever writes it, so every process (each
# Ray worker and actor, each service, each test's subprocess) compiled torch's and Ray's modules again:
# ~7 of the ~14 CPU seconds an import of torch and Ray Train took here (bench/ray_train_startup.py).
uv sync --locked --quiet --compile-bytecode
uv run --no-sync python -m compileall -q -j 0 libs services >/dev/null
command -v shellcheck >/dev/null || apt_install shellcheck
# The labeling service's tests run against a real PostgreSQL (started by the tests, on loopback) and its
# web UI is tested in Debian's Chromium driven by Playwright.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || apt_install postgresql
command -v chromium >/dev/null || apt_install chromium
if ! wait "$deploy_tools"; then
  tail -n 40 .samx/build/deploy-tools.log >&2
  say "the deployment tools did not build (the whole log: .samx/build/deploy-tools.log)"; exit 1
fi
# what was built or found (a summary line only: a log without one must not fail the set-up)
grep -h "built " .samx/build/deploy-tools.log | sed 's/^/  /' || true
say "local stack programs (built once into .samx/build)"
uv run --quiet samx stack build
