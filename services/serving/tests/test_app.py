from __future__ import annotations

import pytest
from samx_core.events import ModelPublished, ObjectRef
from samx_core.settings import S3Settings
from samx_serving.app import AppArgs, app_config, build_app
from samx_serving.settings import ServingSettings
from samx_serving.watcher import ModelSwapper


def _event(version: str) -> ModelPublished:
    ref = ObjectRef(bucket="samx-archive", key=f"models/{version}/manifest.json")
    return ModelPublished(
        model_version=version, manifest=ref, weights=ref, classes=["knee"], run_id="r", labelset_version=1
    )


def test_each_new_version_is_applied_once_and_in_order():
    s3 = S3Settings(access_key="test-key", secret_key="a-long-test-secret")
    applied: list[str] = []
    swapper = ModelSwapper(
        AppArgs.from_settings(ServingSettings(), s3, model_version="v1"), lambda a: applied.append(a.model_version)
    )
    for version in ["v1", "v2", "v2", "v3"]:  # the start version and a re-delivery are no-ops
        swapper.on_model_published(_event(version))
    assert applied == ["v2", "v3"] and swapper.version == "v3"


def test_a_failed_apply_keeps_the_old_version_so_the_redelivery_retries():
    s3 = S3Settings(access_key="test-key", secret_key="a-long-test-secret")

    def fail(_args: AppArgs) -> None:
        raise RuntimeError("the cluster refused the update")

    swapper = ModelSwapper(AppArgs.from_settings(ServingSettings(), s3, model_version="v1"), fail)
    with pytest.raises(RuntimeError):
        swapper.on_model_published(_event("v2"))
    assert swapper.version == "v1"


def test_the_serve_config_carries_the_version_only_in_the_user_config():
    """Swapping models must change nothing but the model deployment's user_config (a lightweight
    update); the args rebuild the same application, credentials included."""
    s3 = S3Settings(access_key="test-key", secret_key="a-long-test-secret")
    args = AppArgs.from_settings(ServingSettings(top_k=5), s3, model_version="v7")
    one, two = app_config(args, name="app"), app_config(args.with_version("v8"), name="app")
    assert one["args"] == two["args"] and one["import_path"] == "samx_serving.app:build_app"
    assert [d["user_config"] for d in (one["deployments"][0], two["deployments"][0])] == [
        {"version": "v7"},
        {"version": "v8"},
    ]
    rebuilt = AppArgs.model_validate(one["args"])
    assert rebuilt == args.model_copy(update={"model_version": None})
    assert rebuilt.model.s3.secret_key.get_secret_value() == "a-long-test-secret"
    assert build_app(one["args"]) is not None
