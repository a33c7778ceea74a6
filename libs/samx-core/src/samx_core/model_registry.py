"""The model registry: versioned phase-2 models in the archive bucket.

Layout (one prefix per version, immutable once written; a pointer object names the promoted one)::

    models/<version>/manifest.json   classes, arch, sizes, thresholds, metrics, lineage (samx_ml.bundle)
    models/<version>/weights.pt      torch state dict
    models/<version>/ood.npz         out-of-distribution statistics calibrated in phase 2 (samx_ml.ood),
                                     when the manifest's metrics carry ``ood_threshold``
    models/current.json              {"version": ..., "promoted_at": ...}

The registry moves bytes and JSON only; torch stays in samx-ml.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from samx_core.storage import ObjectStore, StoredObject

PREFIX = "models/"
CURRENT_KEY = PREFIX + "current.json"
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ModelNotFoundError(LookupError):
    pass


def _check(version: str) -> str:
    if not _VERSION.match(version):
        raise ValueError(f"invalid model version {version!r}")
    return version


class ModelRegistry:
    def __init__(self, store: ObjectStore, bucket: str) -> None:
        self._store, self._bucket = store, bucket

    @property
    def bucket(self) -> str:
        return self._bucket

    def manifest_key(self, version: str) -> str:
        return f"{PREFIX}{_check(version)}/manifest.json"

    def weights_key(self, version: str) -> str:
        return f"{PREFIX}{_check(version)}/weights.pt"

    def ood_key(self, version: str) -> str:
        return f"{PREFIX}{_check(version)}/ood.npz"

    def put(
        self, version: str, manifest: dict[str, Any], weights: bytes, *, ood: bytes | None = None
    ) -> tuple[StoredObject, StoredObject]:
        """Store a new version; weights (and OOD statistics) first so a visible manifest always has them."""
        if self._store.exists(self._bucket, self.manifest_key(version)):
            raise ValueError(f"model version {version!r} exists; versions are immutable")
        w = self._store.put_bytes(self._bucket, self.weights_key(version), weights)
        if ood is not None:
            self._store.put_bytes(self._bucket, self.ood_key(version), ood)
        m = self._store.put_json(self._bucket, self.manifest_key(version), manifest)
        return m, w

    def manifest(self, version: str) -> dict[str, Any]:
        doc = self._store.get_json_or_none(self._bucket, self.manifest_key(version))
        if doc is None:
            raise ModelNotFoundError(f"no model version {version!r} in the registry")
        return doc  # type: ignore[return-value]

    def weights(self, version: str) -> bytes:
        if not self._store.exists(self._bucket, self.weights_key(version)):
            raise ModelNotFoundError(f"no weights for model version {version!r}")
        return self._store.get_bytes(self._bucket, self.weights_key(version))

    def ood(self, version: str) -> bytes | None:
        """The version's OOD statistics; None when it was stored without (older models)."""
        if not self._store.exists(self._bucket, self.ood_key(version)):
            return None
        return self._store.get_bytes(self._bucket, self.ood_key(version))

    def versions(self) -> list[str]:
        keys = self._store.list_keys(self._bucket, PREFIX)
        return sorted({k[len(PREFIX) :].split("/", 1)[0] for k in keys if k.endswith("/manifest.json")})

    def promote(self, version: str) -> None:
        self.manifest(version)  # refuse to point at a version that does not exist
        self._store.put_json(
            self._bucket, CURRENT_KEY, {"version": version, "promoted_at": datetime.now(UTC).isoformat()}
        )

    def current(self) -> str | None:
        doc = self._store.get_json_or_none(self._bucket, CURRENT_KEY)
        return doc["version"] if isinstance(doc, dict) else None
