"""A small JSON-over-HTTP client for the CLI's calls to the SAM-X services (labeling, serving).

The CLI stays free of the services' code (services are run, never imported): it speaks their public APIs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


class ServiceError(RuntimeError):
    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url} -> {status}: {body[:300]}")
        self.status = status


@dataclass(frozen=True)
class ServiceClient:
    base_url: str
    token: str | None = None
    timeout_s: float = 60.0

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: object = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> Any:  # the decoded JSON answer (None when empty)
        url = self.base_url.rstrip("/") + path
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if json_body is not None:
            body, content_type = json.dumps(json_body).encode(), "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 (our own URL)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise ServiceError(method, url, exc.code, exc.read().decode(errors="replace")) from None
        return json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, json_body: object = None, **kwargs) -> Any:
        return self.request("POST", path, json_body=json_body, **kwargs)
