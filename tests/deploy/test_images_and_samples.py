"""Dockerfiles (linted by samx-dockerlint: BuildKit's parser and linter plus SAM-X's rules), the KubeRay
samples (validated against the CRDs of ../shared/k8s-crds), and the k8s/ scripts (bash -n, shellcheck)."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.deploy.helm import REPO, pod_specs, tool, validate_crd, validate_k8s

DOCKERFILES = sorted(REPO.glob("services/*/Dockerfile"))
SAMPLES = sorted((REPO / "k8s" / "samples").glob("*.yaml"))
SCRIPTS = sorted((REPO / "k8s").glob("*.sh")) + [REPO / "scripts" / "build-deploy-tools.sh"]


def lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tool("samx-dockerlint")), *map(str, paths)], capture_output=True, text=True, timeout=60)


# ---- images -------------------------------------------------------------------------------------------


# The Ray services derive from rayproject/ray and run as its user; the others as SAM-X's own uid.
RAY_IMAGES = {"trainer", "serving"}


def test_there_are_dockerfiles() -> None:
    assert [p.parent.name for p in DOCKERFILES] == ["ingest", "labeling", "serving", "trainer"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfile_passes_the_linter(dockerfile: Path) -> None:
    proc = lint(dockerfile)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_linter_catches_what_it_should(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:latest AS Build\n"
        "ADD https://example.org/get.sh /get.sh\n"
        "RUN pip install requests && apt-get install -y gcc\n"
        "FROM python\n"
        "RUN apt-get install -y --no-install-recommends build-essential\n"
        "HEALTHCHECK CMD true\n"
        "USER root\n"
        "ENTRYPOINT samx\n"
    )
    proc = lint(bad)
    assert proc.returncode == 1
    rules = set(re.findall(r": (SAMX\d+|BuildKit/\w+):", proc.stdout))
    expected = {"SAMX001", "SAMX002", "SAMX003", "SAMX004", "SAMX005", "SAMX006", "SAMX007", "SAMX008"}
    assert expected <= rules, proc.stdout
    assert "BuildKit/StageNameCasing" in rules, proc.stdout


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfile_copies_every_workspace_pyproject(dockerfile: Path) -> None:
    """`uv sync --locked` checks the whole workspace: the dependency layer needs every member's
    pyproject.toml (a new member must be added to each Dockerfile)."""
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    members = sorted(
        str(p.parent.relative_to(REPO))
        for pattern in root["tool"]["uv"]["workspace"]["members"]
        for p in REPO.glob(f"{pattern}/pyproject.toml")
    )
    text = dockerfile.read_text()
    copied = sorted(re.findall(r"^COPY (\S+)/pyproject\.toml \1/$", text, re.M))
    assert copied == members
    service = dockerfile.parent.name
    syncs = re.findall(r"^RUN uv sync (.+)$", text, re.M)
    assert syncs == [
        f"--locked --no-dev --package samx-{service} --no-install-workspace",
        f"--locked --no-dev --package samx-{service} --no-editable",
    ]
    assert re.search(rf'^ENTRYPOINT \["samx-{service}"\]$', text, re.M)
    final = text.split("\nFROM ")[-1]
    if service in RAY_IMAGES:
        # the matching Ray (uv.lock: ray 2.60.0, Python 3.11), CPU by default, CUDA by build argument
        assert re.search(r"^ARG RAY_IMAGE=rayproject/ray:2\.60\.0-py311-cpu$", text, re.M)
        assert "--build-arg RAY_IMAGE=rayproject/ray:2.60.0-py311-gpu" in text
        assert final.startswith("${RAY_IMAGE} AS runtime")
        assert re.search(r"^USER 1000:100$", final, re.M)
        assert re.search(r"^ENV VIRTUAL_ENV=/opt/samx/venv \\\n\s+PATH=/opt/samx/venv/bin:\$PATH", final, re.M)
    else:
        assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm$", text, re.M)
        assert re.search(r"^USER 10001:10001$", final, re.M)


def test_ray_images_match_the_locked_ray() -> None:
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    (ray,) = [p for p in lock["package"] if p["name"] == "ray"]
    for service in RAY_IMAGES:
        text = (REPO / "services" / service / "Dockerfile").read_text()
        assert f"rayproject/ray:{ray['version']}-py311-cpu" in text
    chart_values = yaml.safe_load((REPO / "charts" / "samx" / "values.yaml").read_text())
    assert chart_values["kuberay"]["rayVersion"] == ray["version"]


def test_dockerignore_keeps_local_state_out() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    assert lines[[i for i, line in enumerate(lines) if not line.startswith("#")][0]] == "**"
    allowed = [line[1:] for line in lines if line.startswith("!")]
    assert not any(part in line for line in allowed for part in (".venv", ".samx", ".git", "data", "tests"))


# ---- KubeRay samples ------------------------------------------------------------------------------------


def test_there_is_a_rayjob_sample_per_phase() -> None:
    assert [p.name for p in SAMPLES] == ["rayjob.phase1.yaml", "rayjob.phase2.yaml"]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_sample_validates_against_its_crd(sample: Path) -> None:
    doc = yaml.safe_load(sample.read_text())
    kind = sample.name.split(".")[0]
    assert doc["kind"].lower() == kind, "samples are named <kind>.<variant>.yaml"
    assert validate_crd(doc) == []
    assert validate_k8s(doc, "1.33.0") == []  # routed to the CRD for KubeRay kinds


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_sample_has_no_install_at_start(sample: Path) -> None:
    doc = yaml.safe_load(sample.read_text())
    text = yaml.safe_dump(doc)  # the manifest, not its comments
    assert "runtimeEnvYAML" not in doc["spec"]
    assert not re.search(r"pip3? install|uv pip|conda install", text)
    for _, pod in pod_specs(doc):
        for container in pod["containers"]:
            assert re.search(r":\d+\.\d+\.\d+$", container["image"]), container["image"]
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert pod["securityContext"]["runAsNonRoot"] is True


def test_crd_validation_finds_mistakes() -> None:
    doc = yaml.safe_load(SAMPLES[0].read_text())
    typo = copy.deepcopy(doc)
    typo["spec"]["shutdownAfterJobFinish"] = typo["spec"].pop("shutdownAfterJobFinishes")
    assert any("shutdownAfterJobFinish" in p for p in validate_crd(typo))
    assert validate_crd(typo, strict=False) == []  # the API server would silently prune it
    wrong_type = copy.deepcopy(doc)
    wrong_type["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["replicas"] = "one"
    assert any("replicas" in p for p in validate_crd(wrong_type))
    missing = copy.deepcopy(doc)
    del missing["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"]
    assert any("containers" in p for p in validate_crd(missing))
    bad_pod = copy.deepcopy(doc)
    bad_pod["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 3
    assert validate_crd(bad_pod)
    unknown = {"apiVersion": "ray.io/v9", "kind": "RayJob", "metadata": {"name": "x"}, "spec": {}}
    assert validate_crd(unknown)[0].startswith("no CRD for ray.io/v9 RayJob")


# ---- k8s/ scripts ------------------------------------------------------------------------------------


def test_k8s_scripts_exist() -> None:
    names = {p.name for p in SCRIPTS}
    assert {"install-kuberay.sh", "build-and-load-images.sh", "deploy.sh", "e2e.sh"} <= names
    assert (REPO / "k8s" / "kind-config.yaml").is_file()


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses(script: Path) -> None:
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script.read_text()


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (apt-get install shellcheck)")
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_passes_shellcheck(script: Path) -> None:
    proc = subprocess.run(["shellcheck", "-x", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_kind_config() -> None:
    config = yaml.safe_load((REPO / "k8s" / "kind-config.yaml").read_text())
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    roles = [n["role"] for n in config["nodes"]]
    assert roles == ["control-plane", "worker"]
