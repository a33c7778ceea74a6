"""The ``Classifier`` port over serving's HTTP API: ``POST /v1/explain`` with the ingested radiograph's
image id (serving reads its derivative and DICOM tags from the archive, so ``tag_mismatch`` is judged on
the radiograph's own tags) and the stack's serving client token as bearer.

Standard library HTTP on purpose: one bounded request per call, nothing kept open. Failures become the
port's exceptions with a message for a person; no response body or image id is logged."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

from samx_labeling.domain.explaining import (
    ClassifierRefused,
    ClassifierTimeout,
    ClassifierUnavailable,
    Explained,
    ScoredName,
)

log = logging.getLogger(__name__)


class ServingClassifier:
    def __init__(self, base_url: str, token: str, *, timeout_s: float = 30.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"SAMX_LABELING_SERVING_URL must be an http(s) URL, not {base_url!r}")
        self._url = base_url.rstrip("/") + "/v1/explain"
        self._token = token
        self._timeout_s = timeout_s

    def explain(self, image_id: str) -> Explained:
        request = urllib.request.Request(  # noqa: S310 (an http(s) URL, checked above)
            self._url,
            data=json.dumps({"image_id": image_id}).encode(),
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as answer:  # noqa: S310
                body = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            raise _refusal(exc) from None
        except TimeoutError:
            log.warning("serving explain timed out after %.0f s", self._timeout_s)
            raise ClassifierTimeout(f"the classifier did not answer within {self._timeout_s:.0f} s; retry") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise ClassifierTimeout(
                    f"the classifier did not answer within {self._timeout_s:.0f} s; retry"
                ) from None
            log.warning("serving unreachable: %s", type(reason).__name__)
            raise ClassifierUnavailable("the classifier (serving) is unreachable; retry when it is up") from None
        except ValueError:
            raise ClassifierUnavailable("the classifier answered something that is not JSON") from None
        return _explained(body)


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("detail") or exc.reason)
    except (ValueError, AttributeError, OSError):
        return str(exc.reason)


def _refusal(exc: urllib.error.HTTPError) -> Exception:
    log.warning("serving explain answered %d", exc.code)
    if exc.code in (401, 403):
        return ClassifierUnavailable("the classifier refused this service's token: check SAMX_LABELING_SERVING_TOKEN")
    if exc.code == 504:
        return ClassifierTimeout(f"the classifier timed out: {_detail(exc)}")
    if exc.code >= 500:
        return ClassifierUnavailable(f"the classifier is unavailable: {_detail(exc)}")
    return ClassifierRefused(exc.code, _detail(exc))


def _explained(body: dict) -> Explained:
    try:
        return Explained(
            model_version=str(body["model_version"]),
            class_name=str(body["class_name"]),
            probability=float(body["probability"]),
            top=[ScoredName(str(t["label"]), float(t["probability"])) for t in body.get("top", [])],
            flags={k: bool(v) for k, v in (body.get("flags") or {}).items()},
            ood_score=None if body.get("ood_score") is None else float(body["ood_score"]),
            overlay_png_base64=str(body.get("overlay_png_base64") or ""),
            target_layer=str(body.get("target_layer") or ""),
        )
    except (KeyError, TypeError, ValueError):
        raise ClassifierUnavailable("the classifier's answer lacks the prediction fields") from None
