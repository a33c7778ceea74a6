"""Helpers of the deployment tests: the pinned tools built by scripts/build-deploy-tools.sh, chart
rendering, and offline validation (Kubernetes schemas by kubernetes-validate, KubeRay CRD schemas)."""

from __future__ import annotations

import copy
import functools
import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "samx"
BIN = Path(os.environ.get("SAMX_BUILD", REPO / ".samx" / "build")) / "bin"
CRD_DIR = REPO.parent / "shared" / "k8s-crds" / "kuberay"
VALUES = {
    "default": [],
    "kind": [CHART / "ci" / "kind-values.yaml"],
    "gpu": [CHART / "ci" / "gpu-values.yaml"],
}
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest helm v3.22 knows.
KUBE_VERSIONS = ("1.29.0", "1.37.0")
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}


def tool(name: str) -> Path:
    """A tool of scripts/build-deploy-tools.sh; a missing one fails the test (never skips it)."""
    path = BIN / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{path} is missing: run scripts/build-deploy-tools.sh (the test command does)", pytrace=False)
    return path


def offline_chart(dest: Path) -> Path:
    """A copy of the chart whose Chart.yaml leaves out the optional dependencies that are neither
    downloaded (charts/ has no archive) nor enabled. `helm template` refuses a chart with a declared
    but missing dependency even where its condition is false; with the dependency built (`helm
    dependency build`, which needs its repository) the real chart renders the same manifests."""
    target = dest / "samx"
    if target.exists():
        return target
    shutil.copytree(CHART, target)
    meta_path = target / "Chart.yaml"
    meta = yaml.safe_load(meta_path.read_text())
    values = yaml.safe_load((target / "values.yaml").read_text())
    present = {p.name for p in (target / "charts").glob("*")} if (target / "charts").is_dir() else set()
    kept = []
    for dep in meta.get("dependencies", []):
        enabled = values.get(dep["name"], {}).get("enabled", True)
        if enabled or any(name.startswith(dep["name"]) for name in present):
            kept.append(dep)
    meta["dependencies"] = kept
    meta_path.write_text(yaml.safe_dump(meta, sort_keys=False))
    return target


@dataclass
class Rendered:
    docs: list[dict[str, Any]]
    seconds: float
    text: str

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        matches = [d for d in self.of_kind(kind) if d["metadata"]["name"] == name]
        assert len(matches) == 1, f"{kind}/{name}: {len(matches)} rendered"
        return matches[0]


def launcher_files(result: Rendered) -> dict[str, str]:
    """The trainer-launcher's ConfigMap: its script and the RayJob template per phase."""
    return result.named("ConfigMap", "samx-trainer-launcher")["data"]


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(tool("helm")), *args], capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def template_args(
    chart: Path, values_files: Iterable[Path], sets: Iterable[str] = (), kube_version: str = KUBE_VERSIONS[-1]
) -> list[str]:
    args = ["template", "samx", str(chart), "--namespace", "samx", "--kube-version", kube_version]
    for path in values_files:
        args += ["-f", str(path)]
    for item in sets:
        args += ["--set", item]
    return args


def render(
    chart: Path, values_files: Iterable[Path] = (), sets: Iterable[str] = (), kube_version: str = KUBE_VERSIONS[-1]
) -> Rendered:
    start = time.perf_counter()
    proc = helm(*template_args(chart, values_files, sets, kube_version))
    seconds = time.perf_counter() - start
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    return Rendered(docs, seconds, proc.stdout)


def pod_specs(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, pod spec) of every pod template of a manifest, KubeRay kinds included."""
    kind = doc["kind"]
    spec = doc.get("spec", {})
    if kind == "CronJob":
        yield "jobTemplate", spec["jobTemplate"]["spec"]["template"]["spec"]
    elif kind in POD_KINDS:
        yield "template", spec["template"]["spec"]
    elif kind in {"RayJob", "RayService", "RayCluster"}:
        cluster = {"RayJob": "rayClusterSpec", "RayService": "rayClusterConfig"}.get(kind)
        cluster_spec = spec[cluster] if cluster else spec
        yield "head", cluster_spec["headGroupSpec"]["template"]["spec"]
        for group in cluster_spec.get("workerGroupSpecs", []):
            yield f"worker group {group['groupName']}", group["template"]["spec"]


# ---- KubeRay CRD schemas ------------------------------------------------------------------------------


@functools.cache
def _crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema of every served version of the KubeRay CRDs."""
    if not CRD_DIR.is_dir():
        pytest.fail(f"KubeRay CRDs not found at {CRD_DIR} (../shared/k8s-crds/kuberay)", pytrace=False)
    schemas = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served", True):
                    schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


def crd_kinds() -> set[tuple[str, str]]:
    return set(_crd_schemas())


def _strict(schema: Any) -> Any:
    """Closes every object schema that lists its properties (additionalProperties: false) unless it
    keeps unknown fields, as `kubectl apply --validate=strict` would reject unknown fields."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _int_or_string(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int | str) and not isinstance(instance, bool)


@functools.cache
def _crd_validator(api_version: str, kind: str, strict: bool) -> jsonschema.protocols.Validator:
    schema = copy.deepcopy(_crd_schemas()[(api_version, kind)])
    if strict:
        schema = _strict(schema)
        # apiVersion/kind/metadata are checked by the API server, not the CRD schema
        schema.setdefault("properties", {}).setdefault("metadata", {"type": "object"})
        schema["properties"].setdefault("apiVersion", {"type": "string"})
        schema["properties"].setdefault("kind", {"type": "string"})
        schema["properties"].setdefault("status", {"type": "object"})
    cls = jsonschema.validators.extend(jsonschema.Draft7Validator, {})
    return cls(schema, format_checker=None)


def validate_crd(doc: dict[str, Any], strict: bool = True) -> list[str]:
    """Problems of a KubeRay custom resource against its CRD's openAPIV3Schema ([] when valid).
    Integer-or-string fields (x-kubernetes-int-or-string) have no type in the schema: any value passes
    jsonschema there, as in the API server's structural schema."""
    key = (doc.get("apiVersion", ""), doc.get("kind", ""))
    if key not in _crd_schemas():
        return [f"no CRD for {key[0]} {key[1]} in {CRD_DIR}"]
    validator = _crd_validator(*key, strict)
    return [
        f"{'/'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
        for err in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    ]


# ---- Kubernetes schemas ----------------------------------------------------------------------------


def validate_k8s(doc: dict[str, Any], kube_version: str) -> list[str]:
    """Problems of a built-in Kubernetes object against the schemas of that Kubernetes version
    (kubernetes-validate, strict: unknown fields are errors); KubeRay kinds go to validate_crd."""
    try:
        import kubernetes_validate
    except ImportError:  # pragma: no cover - the dev group has it
        pytest.fail(
            "kubernetes-validate is not installed: add it to the dev dependency group (pyproject.toml)",
            pytrace=False,
        )
    if (doc.get("apiVersion"), doc.get("kind")) in crd_kinds():
        return validate_crd(doc)
    try:
        kubernetes_validate.validate(doc, kube_version, strict=True)
    except kubernetes_validate.ValidationError as err:
        path = "/".join(str(p) for p in err.path)
        return [f"{doc['kind']}/{doc['metadata'].get('name')}: {path}: {err.message}"]
    return []
