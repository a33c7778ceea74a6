"""Naming clusters: normalization, optimistic concurrency, batches, discard, flag, undo and the audit."""

from __future__ import annotations

from .conftest import ADMIN, LARS, LENA, VIEWER, auth


def _put(labeling, cluster: int, label: str, version: int, token: str = LENA):
    return labeling.client.put(
        f"/api/v1/runs/{labeling.run_id}/clusters/{cluster}/label",
        json={"label": label, "version": version},
        headers=auth(token),
    )


def test_labels_are_normalized_through_the_vocabulary(labeling):
    a, b, c = labeling.non_empty_clusters()[:3]
    answer = _put(labeling, a["cluster"], "  Hands ", a["version"])
    assert answer.status_code == 200 and answer.json()["label"] == "hand"
    assert answer.json()["version"] == a["version"] + 1 and answer.headers["ETag"] == f'"{a["version"] + 1}"'
    assert _put(labeling, b["cluster"], "C-Spine", b["version"]).json()["label"] == "cervical spine"
    assert _put(labeling, c["cluster"], "Patella_Skyline", c["version"]).json()["label"] == "patella skyline"
    vocabulary = {e["name"]: e for e in labeling.client.get("/api/v1/vocabulary", headers=auth(VIEWER)).json()["items"]}
    assert vocabulary["patella skyline"]["origin"] == "label", "a new name is recorded"
    assert vocabulary["cervical spine"]["origin"] == "seed" and "c-spine" in vocabulary["cervical spine"]["synonyms"]
    got = labeling.client.get(f"/api/v1/runs/{labeling.run_id}/clusters/{a['cluster']}", headers=auth(VIEWER))
    assert got.headers["ETag"] == answer.headers["ETag"] and got.json()["updated_by"] == "lena"


def test_two_labelers_on_one_cluster_the_second_gets_409(labeling):
    cluster = labeling.non_empty_clusters()[0]
    seen = cluster["version"]
    assert _put(labeling, cluster["cluster"], "knee", seen, LENA).status_code == 200
    late = _put(labeling, cluster["cluster"], "hip", seen, LARS)
    assert late.status_code == 409 and "version" in late.json()["detail"]
    assert labeling.cluster(cluster["cluster"])["label"] == "knee", "the first name stands"


def test_batch_is_all_or_nothing(labeling):
    a, b, c = labeling.non_empty_clusters()[:3]
    _put(labeling, c["cluster"], "skull", c["version"])  # c moves to version 2; the batch below has it stale
    url = f"/api/v1/runs/{labeling.run_id}/labels"
    items = [
        {"cluster": a["cluster"], "label": "foot", "version": a["version"]},
        {"cluster": b["cluster"], "label": "ankle", "version": b["version"]},
        {"cluster": c["cluster"], "label": "hand", "version": c["version"]},
    ]
    refused = labeling.client.post(url, json={"items": items}, headers=auth(LENA))
    assert refused.status_code == 409
    assert labeling.cluster(a["cluster"])["label"] is None and labeling.cluster(b["cluster"])["label"] is None
    items[2]["version"] += 1
    done = labeling.client.post(url, json={"items": items}, headers=auth(LENA))
    assert done.status_code == 200, done.text
    assert [i["label"] for i in done.json()["items"]] == ["foot", "ankle", "hand"]
    unknown = labeling.client.post(
        url, json={"items": [{"cluster": 99999, "label": "x", "version": 1}]}, headers=auth(LENA)
    )
    assert unknown.status_code == 404


def test_discard_flag_and_undo_walk_back_through_the_audit(labeling):
    number = labeling.non_empty_clusters()[0]["cluster"]
    base = f"/api/v1/runs/{labeling.run_id}/clusters/{number}"
    v = _put(labeling, number, "pelvis", 1).json()["version"]
    discarded = labeling.client.post(
        f"{base}/discard", json={"version": v, "reason": "abdomen, not MSK"}, headers=auth(LENA)
    )
    assert discarded.json()["discarded"] is True and discarded.json()["label"] is None
    v = discarded.json()["version"]
    flagged = labeling.client.post(f"{base}/flag", json={"version": v, "flagged": True}, headers=auth(LARS)).json()
    assert flagged["flagged"] is True

    undo1 = labeling.client.post(f"{base}/undo", json={"version": flagged["version"]}, headers=auth(LENA)).json()
    assert undo1["flagged"] is False and undo1["discarded"] is True
    undo2 = labeling.client.post(f"{base}/undo", json={"version": undo1["version"]}, headers=auth(LENA)).json()
    assert undo2["discarded"] is False and undo2["label"] == "pelvis"
    undo3 = labeling.client.post(f"{base}/undo", json={"version": undo2["version"]}, headers=auth(LENA)).json()
    assert undo3["label"] is None
    nothing = labeling.client.post(f"{base}/undo", json={"version": undo3["version"]}, headers=auth(LENA))
    assert nothing.status_code == 409
    stale = labeling.client.post(f"{base}/undo", json={"version": 1}, headers=auth(LENA))
    assert stale.status_code == 409

    audit = labeling.client.get(
        f"/api/v1/runs/{labeling.run_id}/audit", params={"cluster": number}, headers=auth(VIEWER)
    ).json()
    actions = [(e["action"], e["who"], e["undone"]) for e in audit["items"]]
    assert actions == [
        ("undo", "lena", False),
        ("undo", "lena", False),
        ("undo", "lena", False),
        ("flag", "lars", True),
        ("discard", "lena", True),
        ("label", "lena", True),
    ]
    discard_entry = audit["items"][4]
    assert (
        discard_entry["before"]["label"] == "pelvis" and discard_entry["after"]["discard_reason"] == "abdomen, not MSK"
    )


def test_vocabulary_admin_adds_names_and_synonyms(labeling):
    client = labeling.client
    created = client.post(
        "/api/v1/vocabulary", json={"name": "Patella", "synonyms": ["kneecap", "Patellae"]}, headers=auth(ADMIN)
    )
    assert created.status_code == 201 and created.json() == {
        "name": "patella",
        "synonyms": ["kneecap", "patellae"],
        "origin": "admin",
    }
    assert client.post("/api/v1/vocabulary", json={"name": "patella"}, headers=auth(ADMIN)).status_code == 409
    assert (
        client.post(
            "/api/v1/vocabulary", json={"name": "kneecaps", "synonyms": ["feet"]}, headers=auth(ADMIN)
        ).status_code
        == 409
    ), "a synonym of another name"
    assert client.post("/api/v1/vocabulary", json={"name": "x-ray"}, headers=auth(LENA)).status_code == 403
    number = labeling.non_empty_clusters()[0]["cluster"]
    assert _put(labeling, number, "Kneecap", 1).json()["label"] == "patella"
