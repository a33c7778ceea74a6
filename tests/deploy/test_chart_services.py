"""The chart's labeling, serving and training parts (charts/samx components labeling, serving,
serving-sort, trainer-launcher): database URL, RayService and RayJob specs against the KubeRay CRDs, the
launcher's RBAC and NetworkPolicies, and the launcher script with its rendered templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from samx_serving.app import serve_tracing_config

from tests.deploy.helm import (
    VALUES,
    Rendered,
    helm,
    launcher_files,
    pod_specs,
    render,
    template_args,
    validate_crd,
)


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


# ---- labeling -------------------------------------------------------------------------------------------


def test_labeling_database_url_in_dev_mode(rendered: dict[str, Rendered]) -> None:
    pod = rendered["default"].named("Deployment", "samx-labeling")["spec"]["template"]["spec"]
    (migrate,) = pod["initContainers"]
    (serve,) = pod["containers"]
    assert migrate["args"] == ["migrate"] and serve["args"] == ["serve"]
    assert migrate["image"] == serve["image"] == "samx/labeling:0.1.0"
    for container in (migrate, serve):
        env = env_of(container)
        assert env["SAMX_LABELING_DATABASE_URL"] == (
            "postgresql+psycopg://samx_labeling:$(SAMX_DATABASE_PASSWORD)@samx-postgresql:5432/samx_labeling"
        )
        assert env["SAMX_DATABASE_PASSWORD"] == {"secretKeyRef": {"name": "samx-postgresql", "key": "password"}}
        names = [e["name"] for e in container["env"]]
        # Kubernetes expands $(VAR) only from variables defined before it
        assert names.index("SAMX_DATABASE_PASSWORD") < names.index("SAMX_LABELING_DATABASE_URL")
    assert serve["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # the dev database: official image, non-root, a PVC, reachable from the labeling pods only
    sts = rendered["default"].named("StatefulSet", "samx-postgresql")
    spec = sts["spec"]["template"]["spec"]
    assert spec["containers"][0]["image"].startswith("postgres:15.")
    assert spec["securityContext"]["runAsUser"] == 999 and spec["securityContext"]["runAsNonRoot"] is True
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    policy = rendered["default"].named("NetworkPolicy", "samx-postgresql")
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"][0]["podSelector"]["matchLabels"]["samx.io/uses-postgres"] == "true"
    assert policy["spec"]["egress"] == []
    users = [
        d["metadata"]["name"]
        for d in rendered["default"].docs
        if d["kind"] == "Deployment"
        and d["spec"]["template"]["metadata"]["labels"].get("samx.io/uses-postgres") == "true"
    ]
    assert users == ["samx-labeling"]


def test_labeling_database_url_external(chart: Path, rendered: dict[str, Rendered]) -> None:
    result = rendered["gpu"]
    assert not [d for d in result.of_kind("StatefulSet") if d["metadata"]["name"] == "samx-postgresql"]
    (serve,) = result.named("Deployment", "samx-labeling")["spec"]["template"]["spec"]["containers"]
    assert env_of(serve)["SAMX_LABELING_DATABASE_URL"] == (
        "postgresql+psycopg://samx_labeling:$(SAMX_DATABASE_PASSWORD)@postgres.db.hospital.example:5432"
        "/samx_labeling?sslmode=verify-full"
    )
    egress = result.named("NetworkPolicy", "samx-labeling")["spec"]["egress"]
    assert {"to": [{"ipBlock": {"cidr": "10.60.0.0/16"}}], "ports": [{"port": 5432, "protocol": "TCP"}]} in egress
    proc = helm(*template_args(chart, [], ["postgresql.dev.enabled=false"]), check=False)
    assert proc.returncode != 0 and "postgresql.external.host is required" in proc.stderr


def test_labeling_tokens_come_from_a_secret_file(chart: Path, rendered: dict[str, Rendered]) -> None:
    pod = rendered["default"].named("Deployment", "samx-labeling")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "secret-tokens"]
    assert volume["secret"]["secretName"] == "samx-labeling-tokens"
    (serve,) = pod["containers"]
    assert {"name": "secret-tokens", "mountPath": "/etc/samx/labeling", "readOnly": True} in serve["volumeMounts"]
    assert env_of(serve)["SAMX_LABELING_TOKENS"] == "/etc/samx/labeling/tokens.json"
    for item in ("components.labeling.env.SAMX_LABELING_TOKENS=x", "postgresql.password=x"):
        proc = helm(*template_args(chart, [], [item]), check=False)
        assert proc.returncode != 0 and "values don't meet the specifications" in proc.stderr, item


def test_labeling_ingress_is_optional(chart: Path, rendered: dict[str, Rendered]) -> None:
    assert not rendered["default"].of_kind("Ingress") and not rendered["kind"].of_kind("Ingress")
    ingress = rendered["gpu"].named("Ingress", "samx-labeling")["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["tls"] == [{"hosts": ["labeling.samx.hospital.example"], "secretName": "samx-labeling-tls"}]
    backend = ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "samx-labeling", "port": {"name": "http"}}
    assert rendered["gpu"].named("Service", "samx-labeling")["spec"]["ports"][0]["port"] == 8090
    proc = helm(
        *template_args(
            chart, [], ["components.labeling.ingress.enabled=true", "components.labeling.service.enabled=false"]
        ),
        check=False,
    )
    assert proc.returncode != 0 and "components.labeling.ingress needs service.enabled" in proc.stderr


# ---- serving ----------------------------------------------------------------------------------------------


def test_rayservice_validates_and_serves_the_app(rendered: dict[str, Rendered]) -> None:
    for name in VALUES:
        service = rendered[name].named("RayService", "samx-serving")
        assert validate_crd(service) == [], name
        config = yaml.safe_load(service["spec"]["serveConfigV2"])
        (app,) = config["applications"]
        assert app["import_path"] == "samx_serving.app:build_app" and app["route_prefix"] == "/"
        assert config["http_options"] == {"host": "0.0.0.0", "port": 8000}  # noqa: S104 - in the pod
        # the replicas and the proxy trace as serving deployed locally does (samx_serving.app)
        assert config["tracing_config"] == serve_tracing_config().model_dump(), name
        cluster = service["spec"]["rayClusterConfig"]
        assert cluster["rayVersion"] == "2.60.0"
        for _, pod in pod_specs(service):
            assert {"name": "tmp", "mountPath": "/tmp"} in pod["containers"][0]["volumeMounts"]  # noqa: S108
            assert pod["securityContext"]["runAsUser"] == 1000
            assert "runtimeEnv" not in json.dumps(pod)
    model = {
        d["name"]: d
        for d in yaml.safe_load(rendered["gpu"].named("RayService", "samx-serving")["spec"]["serveConfigV2"])[
            "applications"
        ][0]["deployments"]
    }
    assert model["ModelServer"]["autoscaling_config"] == {
        "min_replicas": 1,
        "max_replicas": 2,
        "target_ongoing_requests": 16,
    }
    assert model["ModelServer"]["ray_actor_options"] == {"num_cpus": 2, "num_gpus": 1}


def test_rayservice_gpu_group_follows_the_gpu_block(chart: Path, rendered: dict[str, Rendered]) -> None:
    on = rendered["gpu"].named("RayService", "samx-serving")["spec"]
    (group,) = on["rayClusterConfig"]["workerGroupSpecs"]
    pod = group["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["runtimeClassName"] == "nvidia"
    head = on["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]
    assert "nvidia.com/gpu" not in json.dumps(head) and "nodeSelector" not in head
    # the same values with the cluster's gpu block off: a CPU worker, no GPU asked of Serve either
    off = render(chart, VALUES["gpu"], sets=["gpu.enabled=false"]).named("RayService", "samx-serving")["spec"]
    (group,) = off["rayClusterConfig"]["workerGroupSpecs"]
    assert "nvidia.com/gpu" not in json.dumps(group) and "tolerations" not in group["template"]["spec"]
    config = yaml.safe_load(off["serveConfigV2"])
    assert {d["ray_actor_options"]["num_gpus"] for d in config["applications"][0]["deployments"]} == {0}
    assert validate_crd({"apiVersion": "ray.io/v1", "kind": "RayService", "metadata": {"name": "x"}, "spec": off}) == []


def test_serving_tokens_come_from_a_secret_file_in_every_ray_pod_and_the_sort(
    chart: Path, rendered: dict[str, Rendered]
) -> None:
    for name in VALUES:
        service = rendered[name].named("RayService", "samx-serving")
        for where, pod in pod_specs(service):  # the app builder and the replicas may run on any
            (volume,) = [v for v in pod["volumes"] if v["name"] == "secret-tokens"]
            assert volume["secret"]["secretName"] == "samx-serving-tokens", (name, where)
            assert volume["secret"]["items"] == [{"key": "tokens.json", "path": "tokens.json"}]
            (ray,) = pod["containers"]
            assert {"name": "secret-tokens", "mountPath": "/etc/samx/serving", "readOnly": True} in ray["volumeMounts"]
            assert env_of(ray)["SAMX_SERVING_TOKENS"] == "/etc/samx/serving/tokens.json"
        (sort,) = rendered[name].named("Deployment", "samx-serving-sort")["spec"]["template"]["spec"]["containers"]
        token_file = "/etc/samx/serving/client-token"  # noqa: S105 (a path, not a secret)
        assert env_of(sort)["SAMX_SERVING_CLIENT_TOKEN_FILE"] == token_file
    for item in (
        "components.serving.env.SAMX_SERVING_TOKENS=x",
        "components.serving-sort.env.SAMX_SERVING_CLIENT_TOKEN=x",
    ):
        proc = helm(*template_args(chart, [], [item]), check=False)
        assert proc.returncode != 0 and "values don't meet the specifications" in proc.stderr, item


def test_serving_network_policy(rendered: dict[str, Rendered]) -> None:
    policy = rendered["gpu"].named("NetworkPolicy", "samx-serving")["spec"]
    sources = [(rule.get("ports"), rule["from"]) for rule in policy["ingress"]]
    selector = {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "samx", "app.kubernetes.io/instance": "samx"}}
    }
    sort = {**selector["podSelector"]["matchLabels"], "app.kubernetes.io/component": "serving-sort"}
    assert ([{"port": 8000, "protocol": "TCP"}], [{"podSelector": {"matchLabels": sort}}]) in sources
    serving = {**selector["podSelector"]["matchLabels"], "app.kubernetes.io/component": "serving"}
    assert (None, [{"podSelector": {"matchLabels": serving}}]) in sources  # Ray's own ports, head <-> workers
    operator = [r for r in policy["ingress"] if "namespaceSelector" in r["from"][0]]
    assert {p["port"] for r in operator for p in r["ports"]} == {8265, 8000}
    # serving-sort reaches the Serve Service KubeRay creates, and only the serving pods on 8000
    (sort_pod,) = rendered["gpu"].named("Deployment", "samx-serving-sort")["spec"]["template"]["spec"]["containers"]
    assert env_of(sort_pod)["SAMX_SERVING_SERVING_URL"] == "http://samx-serving-serve-svc:8000"
    egress = rendered["gpu"].named("NetworkPolicy", "samx-serving-sort")["spec"]["egress"]
    assert {"to": [{"podSelector": {"matchLabels": serving}}], "ports": [{"port": 8000, "protocol": "TCP"}]} in egress


# ---- phase 1 / phase 2 RayJobs and their launcher ---------------------------------------------------------


def test_launcher_rbac_is_least_privilege(rendered: dict[str, Rendered]) -> None:
    for name in VALUES:
        result = rendered[name]
        (role,) = result.of_kind("Role")
        assert not result.of_kind("ClusterRole") and not result.of_kind("ClusterRoleBinding")
        assert role["metadata"]["namespace"] == "samx"
        assert role["rules"] == [
            {"apiGroups": ["ray.io"], "resources": ["rayjobs"], "verbs": ["create", "get", "list", "watch", "delete"]}
        ]
        (binding,) = result.of_kind("RoleBinding")
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": role["metadata"]["name"],
        }
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "samx-trainer-launcher", "namespace": "samx"}]
        pod = result.named("Deployment", "samx-trainer-launcher")["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "samx-trainer-launcher" and pod["automountServiceAccountToken"] is True
    # the API server, Kafka and S3 (its checks before a RayJob: finished run, label set, trained model),
    # besides DNS: no other pod
    egress = rendered["gpu"].named("NetworkPolicy", "samx-trainer-launcher")["spec"]["egress"]
    cidrs = {p["ipBlock"]["cidr"] for rule in egress for p in rule["to"] if "ipBlock" in p}
    assert cidrs == {"10.10.0.0/24", "10.20.0.0/16", "10.30.0.0/16", "10.40.0.0/16"}  # API server, Kafka, S3, OTLP
    container = result.named("Deployment", "samx-trainer-launcher")["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in container and container["args"] == ["launch", "consume"]  # the image's samx-trainer
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SAMX_LAUNCHER_BACKEND"] == "kuberay" and env["SAMX_LAUNCHER_TEMPLATES"] == "/etc/samx/launcher"


def test_rayjob_templates_validate_against_the_crd(rendered: dict[str, Rendered]) -> None:
    for name in VALUES:
        files = launcher_files(rendered[name])
        assert set(files) == {"phase1.yaml", "phase2.yaml"}  # the launcher's code is samx_trainer.launch, in the image
        for phase in ("phase1", "phase2"):
            job = yaml.safe_load(files[f"{phase}.yaml"])
            assert validate_crd(job) == [], (name, phase)
            assert job["spec"]["entrypoint"].startswith(f"samx-trainer {phase} --profile ")
            assert job["spec"]["submissionMode"] == "K8sJobMode" and job["spec"]["shutdownAfterJobFinishes"] is True
            assert "runtimeEnvYAML" not in job["spec"]
            for where, pod in pod_specs(job):
                assert pod["serviceAccountName"] == "samx-trainer", where
                assert pod["containers"][0]["image"].endswith(("/trainer:0.1.0", "/trainer-gpu:0.1.0")), where
            submitter = job["spec"]["submitterPodTemplate"]["spec"]
            assert submitter["restartPolicy"] == "Never" and submitter["automountServiceAccountToken"] is False
    # the RayJob pods' own ServiceAccount and NetworkPolicy
    result = rendered["default"]
    assert result.named("ServiceAccount", "samx-trainer")["automountServiceAccountToken"] is False
    policy = result.named("NetworkPolicy", "samx-trainer")["spec"]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "trainer"
    ports = {p["port"] for rule in policy["egress"] for p in rule.get("ports", [])}
    assert ports == {53, 9092, 9000}  # DNS, Kafka, MinIO; plus any port among the job's own pods
