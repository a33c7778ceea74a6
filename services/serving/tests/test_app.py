from __future__ import annotations

import json
import logging

import pytest
from samx_core.auth import token_digest
from samx_core.events import ModelPublished, ObjectRef
from samx_core.settings import S3Settings
from samx_serving.__main__ import main
from samx_serving.app import AppArgs, app_config, build_app
from samx_serving.settings import ServingSettings
from samx_serving.watcher import ModelSwapper

TOKEN = "a-serving-test-token-0123456789"  # noqa: S105 (a test token)
TOKENS = json.dumps({TOKEN: {"user": "samx-test", "role": "viewer"}})


def _event(version: str) -> ModelPublished:
    ref = ObjectRef(bucket="samx-archive", key=f"models/{version}/manifest.json")
    return ModelPublished(
        model_version=version, manifest=ref, weights=ref, classes=["knee"], run_id="r", labelset_version=1
    )


def test_each_new_version_is_applied_once_and_in_order():
    s3 = S3Settings(access_key="test-key", secret_key="a-long-test-secret")
    applied: list[str] = []
    swapper = ModelSwapper(
        AppArgs.from_settings(ServingSettings(tokens=TOKENS), s3, model_version="v1"),
        lambda a: applied.append(a.model_version),
    )
    for version in ["v1", "v2", "v2", "v3"]:  # the start version and a re-delivery are no-ops
        swapper.on_model_published(_event(version))
    assert applied == ["v2", "v3"] and swapper.version == "v3"


def test_a_failed_apply_keeps_the_old_version_so_the_redelivery_retries():
    s3 = S3Settings(access_key="test-key", secret_key="a-long-test-secret")

    def fail(_args: AppArgs) -> None:
        raise RuntimeError("the cluster refused the update")

    swapper = ModelSwapper(AppArgs.from_settings(ServingSettings(tokens=TOKENS), s3, model_version="v1"), fail)
    with pytest.raises(RuntimeError):
        swapper.on_model_published(_event("v2"))
    assert swapper.version == "v1"


def test_the_serve_config_carries_the_version_only_in_the_user_config():
    """Swapping models must change nothing but the model deployment's user_config (a lightweight
    update); the args rebuild the same application, credentials included."""
    s3 = S3Settings(access_key="test-key", secret_key="a-long-test-secret")
    args = AppArgs.from_settings(ServingSettings(top_k=5, tokens=TOKENS), s3, model_version="v7")
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


def test_the_ingress_gets_token_digests_never_the_tokens():
    s3 = S3Settings(access_key="test-key", secret_key="a-long-test-secret")
    args = AppArgs.from_settings(ServingSettings(tokens=TOKENS), s3, model_version="v1")
    assert args.ingress.auth_required and args.ingress.tokens.lookup(TOKEN).user == "samx-test"
    config = json.dumps(app_config(args, name="app"))  # what the Serve controller stores and logs
    assert TOKEN not in config and token_digest(TOKEN) in config
    rebuilt = AppArgs.model_validate(app_config(args, name="app")["args"])
    assert rebuilt.ingress.tokens.lookup(TOKEN) == args.ingress.tokens.lookup(TOKEN)


def test_auth_is_required_unless_switched_off_explicitly(caplog):
    s3 = S3Settings(access_key="test-key", secret_key="a-long-test-secret")
    with pytest.raises(ValueError, match="SAMX_SERVING_TOKENS is not set"):
        AppArgs.from_settings(ServingSettings(tokens=None), s3, model_version="v1")
    with pytest.raises(ValueError, match="placeholder"):
        AppArgs.from_settings(ServingSettings(tokens='{"changeme": {"user": "a", "role": "viewer"}}'), s3)
    with caplog.at_level(logging.WARNING, logger="samx_serving.app"):
        off = AppArgs.from_settings(ServingSettings(tokens=None, auth="off"), s3, model_version="v1")
    assert not off.ingress.auth_required and "SAMX_SERVING_AUTH=off" in caplog.text


def test_deploy_without_tokens_exits_with_a_configuration_error(monkeypatch, capsys):
    monkeypatch.setenv("SAMX_S3_ACCESS_KEY", "test-key")
    monkeypatch.setenv("SAMX_S3_SECRET_KEY", "a-long-test-secret")
    for name in ("SAMX_SERVING_TOKENS", "SAMX_SERVING_AUTH"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["deploy"])
    assert exited.value.code == 2
    assert "configuration error: SAMX_SERVING_TOKENS is not set" in capsys.readouterr().err


def test_the_client_token_comes_from_the_setting_or_a_file(tmp_path):
    assert ServingSettings(client_token=None).client_bearer_token() is None
    assert ServingSettings(client_token=TOKEN).client_bearer_token() == TOKEN
    path = tmp_path / "client-token"
    path.write_text(TOKEN + "\n")  # a mounted Secret's trailing newline
    assert ServingSettings(client_token=None, client_token_file=path).client_bearer_token() == TOKEN
