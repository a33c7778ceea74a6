"""The pyarrow file system Ray Train writes its checkpoints through: the archive's MinIO / S3."""

from __future__ import annotations

from pyarrow import fs
from samx_core.settings import S3Settings


def s3_filesystem(s3: S3Settings) -> fs.S3FileSystem:
    return fs.S3FileSystem(
        access_key=s3.access_key,
        secret_key=s3.secret_key.get_secret_value(),
        endpoint_override=s3.endpoint,
        scheme="https" if s3.secure else "http",
        region=s3.region or "us-east-1",  # MinIO ignores it; pyarrow would otherwise ask AWS
        allow_bucket_creation=False,
    )


def archive_storage(s3: S3Settings, prefix: str) -> tuple[str, fs.S3FileSystem]:
    """Ray Train storage in the archive bucket: checkpoints of a run travel with its other artifacts."""
    return f"{s3.archive_bucket}/{prefix.strip('/')}", s3_filesystem(s3)
