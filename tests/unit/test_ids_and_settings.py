from __future__ import annotations

import pytest
from pydantic import ValidationError
from samx_core.ids import image_id_for, opaque
from samx_core.settings import KafkaSettings, S3Settings


def test_image_id_prefers_the_sop_instance_uid_over_content():
    a = image_id_for(sop_instance_uid="1.2.3", content_sha256="0" * 64)
    b = image_id_for(sop_instance_uid="1.2.3", content_sha256="1" * 64)
    c = image_id_for(sop_instance_uid=None, content_sha256="1" * 64)
    assert a == b != c
    assert image_id_for(sop_instance_uid="  ", content_sha256="1" * 64) == c
    assert a.startswith("img-") and len(a) == 36
    assert "1.2.3" not in a


def test_opaque_is_stable_short_and_one_way():
    assert opaque("patient-42") == opaque("patient-42") != opaque("patient-43")
    assert len(opaque("patient-42")) == 12


def test_s3_settings_refuse_placeholder_secrets(monkeypatch):
    monkeypatch.delenv("SAMX_S3_SECRET_KEY", raising=False)
    for placeholder in ("minioadmin", "changethis", "short"):
        with pytest.raises(ValidationError, match="placeholder"):
            S3Settings(access_key="k", secret_key=placeholder)
    assert S3Settings(access_key="k", secret_key="a-real-secret-1").secure is False


def test_settings_come_from_the_environment_with_a_prefix(monkeypatch):
    monkeypatch.setenv("SAMX_KAFKA_BOOTSTRAP_SERVERS", "b1:9092,b2:9092")
    monkeypatch.setenv("SAMX_KAFKA_TOPIC_NAMESPACE", "hospital-a")
    settings = KafkaSettings()
    assert settings.client_kwargs()["bootstrap_servers"] == ["b1:9092", "b2:9092"]
    assert settings.topic("samx.radiograph.received.v1") == "hospital-a.samx.radiograph.received.v1"
    assert KafkaSettings(topic_namespace="").topic("x.v1") == "x.v1"
