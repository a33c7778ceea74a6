"""Excluded radiographs named one by one (versioned, audited, undone, in the label set and its CSV), and
the classifier proxy's answers without a classifier, with serving unreachable and with serving too slow
(a real serving answers in tests/integration/test_serving.py)."""

from __future__ import annotations

import socket

import pytest
from samx_labeling.adapters.serving_classifier import ServingClassifier
from samx_trainer.phase2.data import LabelSet, inject_labels

from .conftest import LARS, LENA, VIEWER, auth


def _url(labeling, path: str) -> str:
    return f"/api/v1/runs/{labeling.run_id}/{path}"


def _exclude(labeling, cluster: dict, image_ids: list[str]) -> dict:
    answer = labeling.client.post(
        _url(labeling, f"clusters/{cluster['cluster']}/exclude"),
        json={"version": cluster["version"], "image_ids": image_ids},
        headers=auth(LENA),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _members(labeling, cluster: int) -> list[str]:
    page = labeling.client.get(
        _url(labeling, f"clusters/{cluster}/members"), params={"limit": 1000}, headers=auth(VIEWER)
    )
    return [m["image_id"] for m in page.json()["items"]]


def test_excluded_radiographs_are_named_one_by_one_published_and_undone(labeling):
    a, b = labeling.non_empty_clusters()[:2]
    stray, other = _members(labeling, a["cluster"])[:2]
    kept = _members(labeling, b["cluster"])[0]
    label_url = _url(labeling, f"excluded/{stray}/label")
    refused = labeling.client.put(label_url, json={"label": "skull", "version": 1}, headers=auth(LENA))
    assert refused.status_code == 409 and "exclude it first" in refused.json()["detail"]
    excluded = _exclude(labeling, a, [stray, other])

    assert (
        labeling.client.put(label_url, json={"label": "skull", "version": 1}, headers=auth(VIEWER)).status_code == 403
    )
    assert labeling.client.put(label_url, json={"label": "", "version": 1}, headers=auth(LENA)).status_code == 422
    unknown = labeling.client.put(
        _url(labeling, "excluded/img-unknown/label"), json={"label": "skull", "version": 1}, headers=auth(LENA)
    )
    assert unknown.status_code == 404
    named = labeling.client.put(label_url, json={"label": "Skull", "version": 1}, headers=auth(LENA))
    assert named.status_code == 200, named.text
    assert named.json()["label"] == "skull" and named.json()["label_version"] == 2 and named.json()["cluster"] is None
    stale = labeling.client.put(label_url, json={"label": "pelvis", "version": 1}, headers=auth(LARS))
    assert stale.status_code == 409, "a colleague who saw the radiograph unnamed must reload"
    renamed = labeling.client.put(label_url, json={"label": "pelvis", "version": 2}, headers=auth(LARS))
    assert renamed.status_code == 200 and renamed.json()["label"] == "pelvis"
    pool = labeling.client.get(_url(labeling, "excluded"), headers=auth(VIEWER)).json()
    assert {m["image_id"]: m["label"] for m in pool["items"]} == {stray: "pelvis", other: None}

    # The exclusion cannot be undone under a name; the radiograph's own undo goes back name by name.
    undo_cluster = labeling.client.post(
        _url(labeling, f"clusters/{a['cluster']}/undo"), json={"version": excluded["version"]}, headers=auth(LENA)
    )
    assert undo_cluster.status_code == 409 and "named" in undo_cluster.json()["detail"]

    labeling.client.put(
        _url(labeling, f"clusters/{b['cluster']}/label"),
        json={"label": "hand", "version": b["version"]},
        headers=auth(LENA),
    )
    document = labeling.client.post(_url(labeling, "publish"), params={"allow_incomplete": True}, headers=auth(LENA))
    assert document.status_code == 201, document.text
    document = document.json()
    assert document["labels"] == {stray: "pelvis"} and sorted(document["excluded"]) == sorted([stray, other])
    assert "pelvis" in document["classes"] and document["decisions"]["image_names"] == 1
    assert document["decisions"]["total"] == 1 + 2 + 1  # b's name, two exclusions, one image name
    rows = labeling.client.get(_url(labeling, "labelsets/1.csv"), headers=auth(VIEWER)).text.splitlines()
    assert f"{stray},{a['cluster']},pelvis" in rows and f"{other},{a['cluster']}," in rows

    # Phase 2 trains the named stray under its name, the unnamed one not at all, the others by cluster.
    assignments = {stray: a["cluster"], other: a["cluster"], kept: b["cluster"]}
    injected = inject_labels(LabelSet.from_document(document), assignments)
    assert dict(zip(injected.image_ids, (injected.classes[t] for t in injected.target), strict=True)) == {
        stray: "pelvis",
        kept: "hand",
    }
    assert injected.n_excluded == 1

    audit = labeling.client.get(_url(labeling, "audit"), headers=auth(VIEWER)).json()["items"]
    names = [e for e in audit if e["action"] == "name_image"]
    assert [(e["who"], e["after"]["label"]) for e in names] == [("lars", "pelvis"), ("lena", "skull")]
    undo_url = _url(labeling, f"excluded/{stray}/undo")
    for version, expected in ((3, "skull"), (4, None)):
        undone = labeling.client.post(undo_url, json={"version": version}, headers=auth(LENA))
        assert undone.status_code == 200 and undone.json()["label"] == expected, undone.text
    nothing = labeling.client.post(undo_url, json={"version": 5}, headers=auth(LENA))
    assert nothing.status_code == 409
    back = labeling.client.post(
        _url(labeling, f"clusters/{a['cluster']}/undo"), json={"version": excluded["version"]}, headers=auth(LENA)
    )
    assert back.status_code == 200 and back.json()["size"] == a["size"], back.text


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def test_the_classifier_proxy_says_not_connected_unreachable_slow_and_unknown_image(labeling):
    image_id = _members(labeling, labeling.non_empty_clusters()[0]["cluster"])[0]
    url = _url(labeling, f"images/{image_id}/explain")
    assert labeling.client.get(url).status_code == 401
    missing = labeling.client.get(_url(labeling, "images/img-not-in-run/explain"), headers=auth(VIEWER))
    assert missing.status_code == 404 and "not in run" in missing.json()["detail"]

    alone = labeling.client.get(url, headers=auth(VIEWER))
    assert alone.status_code == 200 and alone.json()["connected"] is False
    assert "no classifier connected" in alone.json()["message"]

    labeling.context.classifier = ServingClassifier(f"http://127.0.0.1:{_closed_port()}", "t" * 32, timeout_s=5)
    down = labeling.client.get(url, headers=auth(VIEWER))
    assert down.status_code == 503 and down.headers["content-type"] == "application/json"
    assert "unreachable" in down.json()["detail"]

    # A listener that never answers: the kernel accepts the connection, nothing replies.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        labeling.context.classifier = ServingClassifier(f"http://127.0.0.1:{port}", "t" * 32, timeout_s=0.5)
        slow = labeling.client.get(url, headers=auth(VIEWER))
    assert slow.status_code == 504 and "did not answer within" in slow.json()["detail"]
    labeling.context.classifier = None


def test_a_serving_url_that_is_not_http_is_refused():
    with pytest.raises(ValueError, match="http"):
        ServingClassifier("file:///etc/passwd", "t" * 32)
