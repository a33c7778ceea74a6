"""The sort's way to the model: the serving HTTP API (so the sort runs anywhere the API is reachable,
and classifies exactly as every other client does), with a bearer token of ``SAMX_SERVING_TOKENS``."""

from __future__ import annotations

import httpx
from opentelemetry import propagate
from samx_core.bus import RetryableError

from samx_serving.api_models import ArchivedRadiograph, Classification, ImageRef


class ClassificationRefused(ValueError):
    """The API refused this image (4xx): retrying will not help, the message is dead-lettered."""


class HttpClassifier:
    def __init__(self, base_url: str, *, token: str | None = None, timeout_s: float = 60.0) -> None:
        """``token`` None sends none (a serving API with ``SAMX_SERVING_AUTH=off``)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s, headers=headers)

    def classify_image(self, image_id: str, archived: ArchivedRadiograph | None = None) -> Classification:
        """``archived`` (from the ingested event or record the caller holds) spares serving the record read."""
        headers: dict[str, str] = {"Content-Type": "application/json"}
        propagate.inject(headers)  # serving's spans join the radiograph's trace (W3C traceparent)
        body = ImageRef(image_id=image_id, archived=archived).model_dump_json(exclude_none=True)
        try:
            r = self._http.post("/v1/classify", content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise RetryableError(f"serving unreachable: {type(exc).__name__}") from exc
        if r.status_code >= 500 or r.status_code == 404 and "unknown_image" not in r.text:
            raise RetryableError(f"serving answered {r.status_code}")
        if r.status_code in (401, 403):  # the sort's configuration, not the image: retried, never dead-lettered
            raise RetryableError(f"serving refused the sort's token ({r.status_code}): check SAMX_SERVING_CLIENT_TOKEN")
        if r.status_code != 200:
            raise ClassificationRefused(f"serving refused the image: {r.status_code} {r.json().get('reason')}")
        return Classification.model_validate_json(r.content)

    def served_version(self) -> str | None:
        try:
            r = self._http.get("/readyz")
        except httpx.HTTPError:
            return None
        return r.json().get("model_version") if r.status_code == 200 else None

    def close(self) -> None:
        self._http.close()
