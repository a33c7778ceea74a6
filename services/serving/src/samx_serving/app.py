"""The Serve application, built by a function from a pydantic args model (Ray Serve's app builder).

One deployment, ``ModelServer`` (ingress.py): the FastAPI routes and the batched, hot-swappable model in
each replica, behind Serve's HTTP proxy.

Deployed declaratively (import path + args + per-deployment overrides, the form a RayService takes on
Kubernetes), never with ``serve.run``: ``serve.run`` gives every run a new code version, so Serve would
replace the replicas on each model swap (seconds to minutes of start-up, and failed requests while a
single replica restarts). With a config whose import path and args stay the same, changing only the
deployment's ``user_config`` is a lightweight update: Serve calls ``reconfigure`` on the live
replicas (ingress.py, batched_model.py) and nothing restarts.
"""

from __future__ import annotations

import logging
import time

from pydantic import BaseModel, ConfigDict
from ray import serve
from ray.serve import Application
from ray.serve.context import _get_global_client
from ray.serve.schema import ServeApplicationSchema, ServeDeploySchema, TracingConfig
from samx_core.auth import TokenTable
from samx_core.model_registry import ModelRegistry
from samx_core.settings import S3Settings
from samx_core.storage import ObjectStore
from samx_core.telemetry import RAY_SERVE_EXPORTER

from samx_serving.ingress import IngressArgs, ModelArgs, ModelServer
from samx_serving.settings import ServingSettings, get_s3_settings, get_settings

MODEL_DEPLOYMENT = "ModelServer"
log = logging.getLogger(__name__)


class AppArgs(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_version: str | None
    model: ModelArgs
    ingress: IngressArgs
    model_replicas: int = 1
    autoscale_max_replicas: int | None = None
    target_ongoing_requests: float = 16.0
    upscale_delay_s: float = 30.0
    downscale_delay_s: float = 600.0
    model_num_cpus: float = 1.0
    model_num_gpus: float = 0.0

    @classmethod
    def from_settings(cls, settings: ServingSettings, s3: S3Settings, *, model_version: str | None = None) -> AppArgs:
        """``model_version`` None: the pinned one from the settings, else the registry's promoted one.
        Raises ``ValueError`` (for an operator) when auth is required and ``SAMX_SERVING_TOKENS`` is
        missing or refused; the tokens travel on as digests only."""
        tokens = settings.token_table()
        if tokens is None:
            log.warning("SAMX_SERVING_AUTH=off: the serving API answers anyone who reaches it (closed networks only)")
        version = model_version or settings.model_version or ModelRegistry(ObjectStore(s3), s3.archive_bucket).current()
        return cls(
            model_version=version,
            model=ModelArgs(
                s3=s3,
                max_batch_size=settings.max_batch_size,
                batch_wait_timeout_s=settings.batch_wait_timeout_s,
                cam_target_layer=settings.cam_target_layer,
                torch_threads=settings.torch_threads,
                ood=settings.ood_policy(),
            ),
            ingress=IngressArgs(
                s3=s3,
                top_k=settings.top_k,
                max_body_bytes=settings.max_body_bytes,
                max_batch_images=settings.max_batch_images,
                allowed_modalities=settings.allowed_modalities,
                min_side_px=settings.min_side_px,
                ood_min_max_probability=settings.ood_min_max_probability,
                ood_min_logsumexp=settings.ood_min_logsumexp,
                cam_long_side_px=settings.cam_long_side_px,
                object_store_timeout_s=settings.object_store_timeout_s,
                model_timeout_s=settings.model_timeout_s,
                readiness_timeout_s=settings.readiness_timeout_s,
                auth_required=tokens is not None,
                tokens=tokens if tokens is not None else TokenTable({}),
            ),
            model_replicas=settings.model_replicas,
            autoscale_max_replicas=settings.autoscale_max_replicas,
            target_ongoing_requests=settings.target_ongoing_requests,
            upscale_delay_s=settings.autoscale_upscale_delay_s,
            downscale_delay_s=settings.autoscale_downscale_delay_s,
            model_num_cpus=settings.model_num_cpus,
            model_num_gpus=settings.model_num_gpus,
        )

    def with_version(self, version: str) -> AppArgs:
        return self.model_copy(update={"model_version": version})


def build_app(args: AppArgs | dict) -> Application:
    """The app builder (import path ``samx_serving.app:build_app``). Serve calls it with the config's
    ``args``: the ``AppArgs`` fields, or ``{}`` to read everything from the replica's environment
    (``SAMX_SERVING_*``, ``SAMX_S3_*``: what a RayService pod gets from its Secrets) and serve the
    registry's promoted version."""
    if isinstance(args, dict):
        args = AppArgs.model_validate(args) if args else AppArgs.from_settings(get_settings(), get_s3_settings())
    scaling: dict = {"num_replicas": args.model_replicas}
    if args.autoscale_max_replicas and args.autoscale_max_replicas > args.model_replicas:
        scaling = {
            "autoscaling_config": {
                "min_replicas": args.model_replicas,
                "max_replicas": args.autoscale_max_replicas,
                "target_ongoing_requests": args.target_ongoing_requests,
                "upscale_delay_s": args.upscale_delay_s,
                "downscale_delay_s": args.downscale_delay_s,
            }
        }
    return ModelServer.options(
        user_config={"version": args.model_version},
        ray_actor_options={"num_cpus": args.model_num_cpus, "num_gpus": args.model_num_gpus},
        **scaling,
    ).bind(args.model, args.ingress)


def app_config(args: AppArgs, *, name: str) -> dict:
    """The application's Serve config. The version is left out of the args (changing the args would
    replace the replicas) and goes into the deployment's user_config. The S3 key travels in the
    args, so it is stored in the Ray cluster's control plane, as a RayService's config would be."""
    body = args.model_copy(update={"model_version": None}).model_dump(mode="json")
    for part in ("model", "ingress"):
        body[part]["s3"]["secret_key"] = getattr(args, part).s3.secret_key.get_secret_value()
    return {
        "name": name,
        "route_prefix": "/",
        "import_path": "samx_serving.app:build_app",
        "args": body,
        "deployments": [{"name": MODEL_DEPLOYMENT, "user_config": {"version": args.model_version}}],
    }


def deploy(args: AppArgs, *, name: str, timeout_s: float = 600.0) -> None:
    """Deploy, or update in place, the application on the Serve instance this process is connected to
    (``serve.start`` first); returns once the deployment answers with ``args.model_version``."""
    config = ServeDeploySchema(
        tracing_config=serve_tracing_config(), applications=[ServeApplicationSchema(**app_config(args, name=name))]
    )
    client = _get_global_client()
    if client is None:
        raise RuntimeError("Serve is not started in this process: call serve.start() first")
    client.deploy_apps(config)
    wait_until_serving(name, args.model_version, timeout_s=timeout_s)


def serve_tracing_config() -> TracingConfig:
    """Ray Serve's own tracing, on: a span per request in the proxy (continuing a caller's
    ``traceparent``) and in each replica it reaches, exported as every SAM-X process exports
    (``RAY_SERVE_EXPORTER`` runs in those processes, so the spans are made and exported where the work
    is done). Every trace is kept, one per radiograph being the promise; the sampler still follows a
    caller's decision."""
    return TracingConfig(enabled=True, exporter_import_path=RAY_SERVE_EXPORTER, sampling_ratio=1.0)


def wait_until_serving(name: str, version: str | None, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    agreeing = 0
    while time.monotonic() < deadline:
        try:
            handle = serve.get_deployment_handle(MODEL_DEPLOYMENT, app_name=name)
            manifest = handle.manifest.remote().result(timeout_s=30)
        except Exception:  # the application is still being built or started: keep waiting
            manifest, agreeing = None, 0
        served = manifest["version"] if manifest else None
        agreeing = agreeing + 1 if served == version else 0
        if agreeing >= 3:  # several answers in a row: with several replicas, most have swapped
            return
        time.sleep(0.2)
    raise TimeoutError(f"application {name!r} does not serve model version {version!r} after {timeout_s:.0f} s")
