"""The Helm chart (charts/samx), rendered here by the pinned helm for the default, kind and GPU values:
lint, offline schema validation, and the rules of STYLE.md's 'Helm and Kubernetes' as assertions."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.helm import (
    CHART,
    KUBE_VERSIONS,
    VALUES,
    Rendered,
    helm,
    offline_chart,
    pod_specs,
    render,
    template_args,
    tool,
    validate_k8s,
)

SECRET_ENV = re.compile(r"(KEY|SECRET|PASSWORD|TOKEN|USERNAME|ROOT_USER)$")


@pytest.fixture(scope="module")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return offline_chart(tmp_path_factory.mktemp("chart"))


@pytest.fixture(scope="module")
def rendered(chart: Path) -> dict[str, Rendered]:
    out = {name: render(chart, files) for name, files in VALUES.items()}
    for name, result in out.items():
        print(f"helm template [{name}]: {len(result.docs)} manifests in {result.seconds:.2f} s")
    return out


def workloads(result: Rendered) -> list[dict[str, Any]]:
    return [d for d in result.docs if any(True for _ in pod_specs(d))]


def rayjob_templates(result: Rendered) -> list[dict[str, Any]]:
    """The RayJobs the trainer-launcher submits, as the chart renders them into its ConfigMap."""
    return [
        yaml.safe_load(text)
        for cm in result.of_kind("ConfigMap")
        for key, text in cm.get("data", {}).items()
        if key.endswith(".yaml")
    ]


def component(doc: dict[str, Any]) -> str:
    return doc["metadata"]["labels"]["app.kubernetes.io/component"]


# ---- helm lint, render, validate ---------------------------------------------------------------------


@pytest.mark.parametrize("values", VALUES)
def test_helm_lint(chart: Path, values: str) -> None:
    args = ["lint", str(chart), "--strict"]
    for path in VALUES[values]:
        args += ["-f", str(path)]
    proc = helm(*args, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("values", VALUES)
def test_every_manifest_validates_against_kubernetes_schemas(chart: Path, values: str, kube_version: str) -> None:
    result = render(chart, VALUES[values], kube_version=kube_version)
    assert len(result.docs) >= 10
    problems = [p for doc in result.docs for p in validate_k8s(doc, kube_version)]
    assert not problems, "\n".join(problems)


def test_the_real_chart_needs_its_dependency_built() -> None:
    """helm refuses a declared dependency that is not in charts/ even when its condition is false:
    that is why the tests render offline_chart(), and why the README says `helm dependency build`."""
    proc = helm(*template_args(CHART, []), check=False)
    if (CHART / "charts").is_dir() and any((CHART / "charts").glob("kuberay-operator*")):
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode != 0
        assert "missing in charts/ directory: kuberay-operator" in proc.stderr


def test_kuberay_dependency_matches_the_crds() -> None:
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    (dep,) = [d for d in meta["dependencies"] if d["name"] == "kuberay-operator"]
    assert dep["version"] == "1.7.0" == meta["annotations"]["samx/kuberay-crds"]
    assert dep["condition"] == "kuberay-operator.enabled"
    assert yaml.safe_load((CHART / "values.yaml").read_text())["kuberay-operator"] == {"enabled": False}
    crds = Path(__file__).resolve().parents[3] / "shared" / "k8s-crds" / "README.md"
    assert "1.7.0" in crds.read_text()


def test_one_template_renders_every_component(rendered: dict[str, Rendered]) -> None:
    """STYLE.md: a components map rendered by one template, not a template per service."""
    sources = re.findall(r"^# Source: samx/templates/(\S+)$", rendered["default"].text, re.M)
    assert set(sources) <= {
        "components.yaml",
        "components-network.yaml",
        "components-rayjobs.yaml",
        "kafka-dev.yaml",
        "minio-dev.yaml",
        "postgresql-dev.yaml",
        "bootstrap-job.yaml",
    }
    templates = {p.name for p in (CHART / "templates").iterdir()}
    for service in ("ingest", "labeling", "serving", "trainer", "launcher"):
        assert not any(service in name for name in templates), templates
    deployments = rendered["default"].of_kind("Deployment")
    assert {component(d) for d in deployments} == {
        "ingest-worker",
        "ingest-cstore",
        "labeling",
        "serving-sort",
        "trainer-launcher",
    }
    assert [component(d) for d in rendered["default"].of_kind("RayService")] == ["serving"]


def test_component_kinds(rendered: dict[str, Rendered]) -> None:
    for name in VALUES:
        result = rendered[name]
        hpa = result.named("HorizontalPodAutoscaler", "samx-ingest-worker")
        assert hpa["spec"]["scaleTargetRef"]["name"] == "samx-ingest-worker"
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
        assert "replicas" not in result.named("Deployment", "samx-ingest-worker")["spec"]  # the HPA owns it
        assert result.named("PodDisruptionBudget", "samx-ingest-worker")["spec"]["minAvailable"] == 1
        service = result.named("Service", "samx-ingest-cstore")
        assert [(p["name"], p["port"]) for p in service["spec"]["ports"]] == [("dicom", 11112)]
        assert not [s for s in result.of_kind("Service") if s["metadata"]["name"] == "samx-ingest-worker"]


def test_dev_infrastructure_is_conditional(rendered: dict[str, Rendered]) -> None:
    for name in ("default", "kind"):
        sets = {d["metadata"]["name"]: d for d in rendered[name].of_kind("StatefulSet")}
        assert set(sets) == {"samx-kafka", "samx-minio", "samx-postgresql"}
        kafka = sets["samx-kafka"]["spec"]["template"]["spec"]["containers"][0]
        assert re.fullmatch(r"apache/kafka:4\.1\.\d+", kafka["image"])
        env = {e["name"]: e.get("value") for e in kafka["env"]}
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
        minio = sets["samx-minio"]["spec"]["template"]["spec"]["containers"][0]
        assert re.fullmatch(r"\S+:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ", minio["image"])
    assert not rendered["gpu"].of_kind("StatefulSet")
    env = container_env(rendered["gpu"].named("Deployment", "samx-ingest-worker"))
    assert env["SAMX_KAFKA_BOOTSTRAP_SERVERS"].startswith("kafka-0.kafka.platform.svc:9093")
    assert env["SAMX_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["SAMX_S3_ENDPOINT"] == "s3.storage.hospital.example:443"
    assert env["SAMX_S3_SECURE"] == "true"


def container_env(doc: dict[str, Any]) -> dict[str, Any]:
    (container,) = doc["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_services_get_their_settings(rendered: dict[str, Rendered]) -> None:
    worker = container_env(rendered["default"].named("Deployment", "samx-ingest-worker"))
    assert worker["SAMX_KAFKA_BOOTSTRAP_SERVERS"] == "samx-kafka:9092"
    assert worker["SAMX_S3_ENDPOINT"] == "samx-minio:9000"
    assert worker["SAMX_S3_SECURE"] == "false"
    assert worker["SAMX_KAFKA_TOPIC_PARTITIONS"] == "4"
    assert worker["SAMX_INGEST_HEALTH_PORT"] == "8081"
    # de-identification on, its key from a Secret file (never a value in the chart)
    assert worker["SAMX_INGEST_IDENTIFIABLE"] == "deidentify"
    assert worker["SAMX_INGEST_DEID_SECRET_FILE"] == "/etc/samx/ingest/secret"  # noqa: S105 (a path, not a secret)
    cstore = container_env(rendered["default"].named("Deployment", "samx-ingest-cstore"))
    assert cstore["SAMX_INGEST_CSTORE_PORT"] == "11112"
    (container,) = rendered["default"].named("Deployment", "samx-ingest-worker")["spec"]["template"]["spec"][
        "containers"
    ]
    assert container["args"] == ["worker"]
    assert container["image"] == "samx/ingest:0.1.0"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    gpu = rendered["gpu"].named("Deployment", "samx-ingest-worker")["spec"]["template"]["spec"]
    assert gpu["containers"][0]["image"] == "registry.hospital.example/samx/ingest:0.1.0"
    assert gpu["imagePullSecrets"] == [{"name": "samx-registry"}]


# ---- security ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("values", VALUES)
def test_every_pod_is_locked_down(rendered: dict[str, Rendered], values: str) -> None:
    result = rendered[values]
    accounts = {d["metadata"]["name"]: d for d in result.of_kind("ServiceAccount")}
    # a token only where a RoleBinding gives it something to do: the trainer-launcher, nowhere else
    bound = {s["name"] for b in result.of_kind("RoleBinding") for s in b["subjects"]}
    assert bound == {"samx-trainer-launcher"}
    found = workloads(result) + rayjob_templates(result)
    assert found
    for doc in found:
        for where, pod in pod_specs(doc):
            name = f"{doc['kind']}/{doc['metadata']['name']} {where}"
            assert pod["securityContext"]["runAsNonRoot"] is True, name
            assert pod["securityContext"]["runAsUser"] > 0, name
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
            assert pod["automountServiceAccountToken"] is (pod["serviceAccountName"] in bound), name
            assert pod["serviceAccountName"] in accounts, f"{name}: its ServiceAccount is not rendered"
            account = accounts[pod["serviceAccountName"]]
            assert account["automountServiceAccountToken"] is (pod["serviceAccountName"] in bound), name
            for container in pod.get("initContainers", []) + pod["containers"]:
                context = container["securityContext"]
                assert context["readOnlyRootFilesystem"] is True, name
                assert context["allowPrivilegeEscalation"] is False, name
                assert context["capabilities"]["drop"] == ["ALL"], name
                assert container["resources"]["limits"] and container["resources"]["requests"], name
            assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC"), name
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            for container in pod.get("initContainers", []) + pod["containers"]:
                cname = f"{name} container {container['name']}"
                sc = container["securityContext"]
                assert sc["readOnlyRootFilesystem"] is True, cname
                assert sc["allowPrivilegeEscalation"] is False, cname
                assert sc["capabilities"]["drop"] == ["ALL"], cname
                assert not sc.get("capabilities", {}).get("add"), cname
                assert sc.get("privileged") in (None, False), cname
                mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
                assert "emptyDir" in volumes[mounts["/tmp"]], f"{cname}: /tmp is not an emptyDir"  # noqa: S108
                assert container["resources"]["requests"] and container["resources"]["limits"], cname
                assert {"cpu", "memory"} <= set(container["resources"]["limits"]), cname
                image = container["image"]
                assert not image.endswith(":latest") and re.search(r":[\w.-]+$", image), f"{cname}: {image}"


@pytest.mark.parametrize("values", VALUES)
def test_no_credentials_in_manifests(rendered: dict[str, Rendered], values: str) -> None:
    result = rendered[values]
    assert not result.of_kind("Secret"), "the chart creates no Secret: credentials come from existing ones"
    assert not result.of_kind("ConfigMap") or all(
        not SECRET_ENV.search(k) for cm in result.of_kind("ConfigMap") for k in cm.get("data", {})
    )
    for doc in workloads(result) + rayjob_templates(result):
        for _, pod in pod_specs(doc):
            for container in pod.get("initContainers", []) + pod["containers"]:
                for env in container.get("env", []):
                    if SECRET_ENV.search(env["name"]):
                        assert "value" not in env, f"{doc['metadata']['name']}: {env['name']} has a literal value"
                        assert env["valueFrom"]["secretKeyRef"]["name"], env
    text = result.text.lower()
    for placeholder in ("minioadmin", "changeme", "changethis"):
        assert placeholder not in text


def test_schema_refuses_credentials_and_unknown_keys(chart: Path) -> None:
    bad = [
        "components.ingest-worker.bogus=1",
        "nosuchkey=1",
        "kafka.dev.image.tag=latest",
        "s3.accessKey=AKIA0000",
        "components.ingest-worker.env.SAMX_S3_SECRET_KEY=supersecret",
        "kafka.external.sasl.password=supersecret",
        "global.image.tag=latest",
        "components.ingest-cstore.networkPolicy.ingress[0].from=null",
    ]
    for item in bad:
        proc = helm(*template_args(chart, [], [item]), check=False)
        assert proc.returncode != 0, f"--set {item} was accepted"
        assert "values don't meet the specifications of the schema" in proc.stderr, (item, proc.stderr)


def test_external_mode_requires_endpoints(chart: Path) -> None:
    proc = helm(*template_args(chart, [], ["kafka.dev.enabled=false"]), check=False)
    assert proc.returncode != 0 and "kafka.external.bootstrapServers is required" in proc.stderr
    proc = helm(*template_args(chart, [], ["minio.dev.enabled=false"]), check=False)
    assert proc.returncode != 0 and "s3.external.endpoint is required" in proc.stderr


def test_values_schema_is_closed() -> None:
    """additionalProperties: false on every object the chart itself defines."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    open_objects = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node and node.get("additionalProperties") is not False:
                open_objects.append(path)
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}/{i}")

    walk(schema, "")
    # the subchart's values are checked by its own schema
    assert open_objects == ["/properties/kuberay-operator"], open_objects


# ---- NetworkPolicies --------------------------------------------------------------------------------


@pytest.mark.parametrize("values", VALUES)
def test_a_network_policy_per_component(rendered: dict[str, Rendered], values: str) -> None:
    result = rendered[values]
    policies = {
        p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]: p
        for p in result.of_kind("NetworkPolicy")
    }
    for doc in workloads(result):
        name = component(doc)
        assert name in policies, f"no NetworkPolicy for {name}"
        assert sorted(policies[name]["spec"]["policyTypes"]) == ["Egress", "Ingress"]


def egress_ports(policy: dict[str, Any]) -> set[int]:
    return {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}


def test_ingest_talks_to_kafka_and_s3_only(rendered: dict[str, Rendered]) -> None:
    dev = rendered["default"].named("NetworkPolicy", "samx-ingest-worker")
    assert egress_ports(dev) == {53, 9092, 9000}
    peers = [peer for rule in dev["spec"]["egress"] for peer in rule["to"]]
    assert all("ipBlock" not in peer for peer in peers), "dev mode: only the in-release Kafka and MinIO pods"
    assert dev["spec"]["ingress"] == []
    prod = rendered["gpu"].named("NetworkPolicy", "samx-ingest-worker")
    cidrs = {peer["ipBlock"]["cidr"] for rule in prod["spec"]["egress"] for peer in rule["to"] if "ipBlock" in peer}
    assert cidrs == {"10.20.0.0/16", "10.30.0.0/16", "10.40.0.0/16"}  # Kafka, S3, OTLP collector
    assert "0.0.0.0/0" not in rendered["gpu"].text
    # Prometheus from the monitoring namespace, on the metrics port only
    (rule,) = prod["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    # the dev brokers admit only pods that declare they use them
    kafka = rendered["default"].named("NetworkPolicy", "samx-kafka")
    assert kafka["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["samx.io/uses-kafka"] == "true"
    pod = rendered["default"].named("Deployment", "samx-ingest-worker")["spec"]["template"]["metadata"]["labels"]
    assert pod["samx.io/uses-kafka"] == pod["samx.io/uses-s3"] == "true"


def test_cstore_accepts_dicom_from_the_configured_peers(chart: Path, rendered: dict[str, Rendered]) -> None:
    policy = rendered["gpu"].named("NetworkPolicy", "samx-ingest-cstore")
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "dicom", "protocol": "TCP"}]
    assert rule["from"] == [{"ipBlock": {"cidr": "10.50.12.0/24"}}]
    result = render(
        chart,
        sets=[
            "components.ingest-cstore.networkPolicy.ingress[0].port=dicom",
            "components.ingest-cstore.networkPolicy.ingress[0].from[0].namespaceSelector.matchLabels.pacs=true",
        ],
    )
    (rule,) = result.named("NetworkPolicy", "samx-ingest-cstore")["spec"]["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"pacs": True}}}]


# ---- GPU scheduling ---------------------------------------------------------------------------------


def gpu_requests(result: Rendered) -> dict[str, dict[str, Any]]:
    found = {}
    for doc in workloads(result) + rayjob_templates(result):
        for where, pod in pod_specs(doc):
            for container in pod["containers"]:
                limits = container["resources"].get("limits", {})
                if "nvidia.com/gpu" in limits:
                    found[f"{doc['kind']}/{doc['metadata']['name']} {where}"] = pod
    return found


def test_gpus_only_where_asked(chart: Path, rendered: dict[str, Rendered]) -> None:
    for name in ("default", "kind"):
        assert not gpu_requests(rendered[name]), f"{name}: no GPU without the cluster's gpu block"
        assert "nvidia.com/gpu" not in json.dumps(
            [d for d in rendered[name].docs if d["kind"] != "NetworkPolicy"]
        ).replace('"nvidia.com/gpu.present"', "")
    # on the GPU cluster: the Ray worker groups of serving and of the phase 1/2 RayJobs, nothing else
    assert set(gpu_requests(rendered["gpu"])) == {
        "RayService/samx-serving worker group gpu",
        "RayJob/samx-phase1 worker group gpu",
        "RayJob/samx-phase2 worker group gpu",
    }
    gpu_file = VALUES["gpu"]
    on = render(chart, gpu_file, sets=["components.ingest-worker.gpu=true"])
    pod = gpu_requests(on)["Deployment/samx-ingest-worker template"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert container["resources"]["limits"]["cpu"] == "2"  # the component's own limits are kept
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["runtimeClassName"] == "nvidia"
    assert "nvidia.com/gpu" not in json.dumps(on.named("Deployment", "samx-ingest-cstore"))
    # a component may ask, but without the cluster's GPU block nothing is requested
    off = render(chart, sets=["components.ingest-worker.gpu=true"])
    assert not gpu_requests(off)


# ---- the bootstrap hook Job ---------------------------------------------------------------------------


def test_bootstrap_job_creates_topics_and_buckets(chart: Path, rendered: dict[str, Rendered]) -> None:
    job = rendered["default"].named("Job", "samx-bootstrap")
    hooks = job["metadata"]["annotations"]["helm.sh/hook"].split(",")
    assert hooks == ["post-install", "post-upgrade"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "samx/ingest:0.1.0"
    assert container["command"] == ["python", "-c"]
    script = container["args"][0]
    assert script.strip() == (CHART / "files" / "bootstrap.py").read_text().strip()
    compile(script, "bootstrap.py", "exec")
    for needed in ("ensure_topics", "ALL_EVENTS", "ensure_buckets"):
        assert needed in script
    result = render(chart, sets=["kafka.topicNamespace=site-a", "kafka.topics.partitions=8"])
    env = {
        e["name"]: e.get("value")
        for e in result.named("Job", "samx-bootstrap")["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["SAMX_KAFKA_TOPIC_NAMESPACE"] == "site-a"
    assert env["SAMX_KAFKA_TOPIC_PARTITIONS"] == "8"


@pytest.mark.integration
def test_bootstrap_script_against_the_local_stack(
    rendered: dict[str, Rendered], test_env: dict[str, str], kafka_settings: Any, s3_settings: Any
) -> None:
    """The hook's script, as rendered, run against the real local Kafka and MinIO (with this test's
    topic namespace and buckets), twice: it creates everything, then finds everything there."""
    from kafka import KafkaAdminClient
    from samx_core.events import ALL_EVENTS
    from samx_core.storage import ObjectStore

    job = rendered["default"].named("Job", "samx-bootstrap")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = {**test_env, "SAMX_KAFKA_TOPIC_PARTITIONS": "3", "SAMX_BOOTSTRAP_WAIT_S": "30"}
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-c", container["args"][0]],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert "buckets" in proc.stdout
    admin = KafkaAdminClient(**kafka_settings.client_kwargs())
    try:
        wanted = [kafka_settings.topic(e.TOPIC) for e in ALL_EVENTS]
        described = {t.get("topic", t.get("name")): t for t in admin.describe_topics(wanted)}
        assert set(described) == set(wanted)
        assert {len(t["partitions"]) for t in described.values()} == {3}
    finally:
        admin.close()
    store = ObjectStore(s3_settings)
    assert store._client.bucket_exists(s3_settings.incoming_bucket)
    assert store._client.bucket_exists(s3_settings.archive_bucket)


# ---- helm-unittest ----------------------------------------------------------------------------------


def test_helm_unittest_suites(chart: Path) -> None:
    suites = sorted((CHART / "tests").glob("*_test.yaml"))
    assert suites, "charts/samx/tests/ has no helm-unittest suite"
    proc = subprocess.run(
        [str(tool("helm-unittest")), "--strict", "--color=false", str(chart)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"Test Suites:\s+\d+ passed", proc.stdout), proc.stdout


# ---- static security check --------------------------------------------------------------------------

CHECKOV = "checkov==3.3.30"
# Accepted, with reasons (charts/samx/README.md, 'Security'):
CHECKOV_ACCEPTED = {
    "CKV_K8S_43": "images by tag: the hospital's registry decides (a digest fits in global.image.tag)",
    "CKV_K8S_15": "pullPolicy IfNotPresent with immutable version tags; Never on kind",
    "CKV_K8S_35": "services read SAMX_* settings from the environment (pydantic-settings), from secretKeyRef",
    "CKV_K8S_40": "the dev Kafka runs as the apache/kafka image's own uid 1000 (dev mode only)",
}


def test_checkov_finds_nothing(rendered: dict[str, Rendered], tmp_path: Path) -> None:
    """checkov's Kubernetes checks on every rendered manifest of the three values files."""
    uv = shutil.which("uv")
    assert uv, "uv is needed to run checkov (uv tool run)"
    for name, result in rendered.items():
        (tmp_path / f"{name}.yaml").write_text(result.text)
    proc = subprocess.run(
        [
            uv,
            "tool",
            "run",
            "--from",
            CHECKOV,
            "checkov",
            "-d",
            str(tmp_path),
            "--framework",
            "kubernetes",
            "--quiet",
            "--compact",
            "-o",
            "json",
            "--skip-check",
            ",".join(CHECKOV_ACCEPTED),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    summary = reports[0]["summary"]
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    assert summary["failed"] == 0 and not failed, "\n".join(failed)
    assert summary["passed"] > 500 and summary["parsing_errors"] == 0, summary
