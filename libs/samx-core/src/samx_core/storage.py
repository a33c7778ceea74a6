"""Object storage adapter over MinIO / any S3 (the ``minio`` package).

Every object is written with its SHA-256 and content type as metadata. Network failures surface as
``RetryableError`` so that consumers wait out an outage instead of dead-lettering radiographs.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from samx_core.bus.errors import RetryableError
from samx_core.events.base import ObjectRef
from samx_core.settings import S3Settings

_MISSING_CODES = {"NoSuchKey", "NoSuchObject", "NoSuchBucket"}


class ObjectMissingError(KeyError):
    """The object (or its bucket) does not exist."""


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    sha256: str
    size_bytes: int
    content_type: str

    def ref(self) -> ObjectRef:
        return ObjectRef(
            bucket=self.bucket,
            key=self.key,
            size_bytes=self.size_bytes,
            sha256=self.sha256,
            content_type=self.content_type,
        )


class ObjectStore:
    def __init__(self, settings: S3Settings, *, timeout_s: float = 30.0) -> None:
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5.0, read=timeout_s),
            maxsize=16,
            retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
        )
        self._client = Minio(
            settings.endpoint,
            access_key=settings.access_key,
            secret_key=settings.secret_key.get_secret_value(),
            secure=settings.secure,
            region=settings.region,
            http_client=http,
        )

    @property
    def client(self) -> Minio:
        return self._client

    def ensure_buckets(self, *buckets: str) -> None:
        for bucket in buckets:
            try:
                if not self._client.bucket_exists(bucket):
                    self._client.make_bucket(bucket)
            except S3Error as exc:
                if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise RetryableError(f"object store unreachable: {exc}") from exc

    def put_bytes(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        sha256: str | None = None,
    ) -> StoredObject:
        digest = sha256 or hashlib.sha256(data).hexdigest()
        try:
            self._client.put_object(
                bucket, key, io.BytesIO(data), len(data), content_type=content_type, metadata={"sha256": digest}
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise RetryableError(f"object store unreachable: {exc}") from exc
        except S3Error as exc:
            if exc.code in {"SlowDown", "ServiceUnavailable", "InternalError", "XMinioServerNotInitialized"}:
                raise RetryableError(f"object store busy: {exc.code}") from exc
            raise
        return StoredObject(bucket, key, digest, len(data), content_type)

    def put_json(self, bucket: str, key: str, document: object) -> StoredObject:
        data = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()
        return self.put_bytes(bucket, key, data, content_type="application/json")

    def get_bytes(self, bucket: str, key: str) -> bytes:
        try:
            response = self._client.get_object(bucket, key)
        except S3Error as exc:
            if exc.code in _MISSING_CODES:
                raise ObjectMissingError(f"{bucket}/{key}") from exc
            raise
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise RetryableError(f"object store unreachable: {exc}") from exc
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def get_json(self, bucket: str, key: str) -> object:
        return json.loads(self.get_bytes(bucket, key))

    def get_json_or_none(self, bucket: str, key: str) -> object | None:
        try:
            return self.get_json(bucket, key)
        except ObjectMissingError:
            return None

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self._client.stat_object(bucket, key)
            return True
        except S3Error as exc:
            if exc.code in _MISSING_CODES:
                return False
            raise
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise RetryableError(f"object store unreachable: {exc}") from exc

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        try:
            return [o.object_name for o in self._client.list_objects(bucket, prefix=prefix, recursive=True)]
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise RetryableError(f"object store unreachable: {exc}") from exc

    def delete(self, bucket: str, key: str) -> None:
        """Removes an object; one that is not there is not an error (S3 semantics)."""
        try:
            self._client.remove_object(bucket, key)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise RetryableError(f"object store unreachable: {exc}") from exc

    def delete_many(self, bucket: str, keys: Sequence[str]) -> None:
        """Removes objects in one request per 1,000 keys (S3 DeleteObjects); absent ones are not errors."""
        try:
            errors = list(self._client.remove_objects(bucket, [DeleteObject(key) for key in keys]))
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise RetryableError(f"object store unreachable: {exc}") from exc
        if errors:  # by code only: keys can name a site's inputs
            raise RetryableError(f"object store kept {len(errors)} of {len(keys)} objects: {errors[0].code}")

    def expire_after(self, bucket: str, days_by_prefix: dict[str, int]) -> None:
        """The bucket's lifecycle: objects under each prefix ('' = all) expire that many days after they
        were written. Replaces the bucket's lifecycle configuration (idempotent; every worker sets it)."""
        from minio.commonconfig import ENABLED, Filter
        from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule

        rules = [
            Rule(
                ENABLED,
                rule_filter=Filter(prefix=prefix),
                rule_id=f"samx-expire-{prefix.strip('/') or 'all'}",
                expiration=Expiration(days=days),
            )
            for prefix, days in sorted(days_by_prefix.items())
        ]
        try:
            self._client.set_bucket_lifecycle(bucket, LifecycleConfig(rules))
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise RetryableError(f"object store unreachable: {exc}") from exc

    def presigned_get_url(self, bucket: str, key: str, *, expires: timedelta = timedelta(hours=1)) -> str:
        # Signing is local, but the first one of a bucket asks the server for its region.
        try:
            return self._client.presigned_get_object(bucket, key, expires=expires)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise RetryableError(f"object store unreachable: {exc}") from exc
