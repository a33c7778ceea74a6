"""Fixing clusters from inside: split (on the run's real embeddings in MinIO), exclude, move, undo, the
409s and roles, and what the published label set says about each radiograph."""

from __future__ import annotations

from collections import Counter

import pytest
from samx_core.storage import ObjectStore

from tests.support.phase1_fixture import build_phase1_run

from .conftest import LARS, LENA, VIEWER, auth


@pytest.fixture(scope="module")
def phase1_run(archive_s3):
    """Whole regions per cluster and a quarter of the radiographs misplaced: clusters worth splitting."""
    return build_phase1_run(
        ObjectStore(archive_s3), archive_s3.archive_bucket, n_images=80, seed=5, split_above=1000, noise=0.25
    )


def _url(labeling, path: str) -> str:
    return f"/api/v1/runs/{labeling.run_id}/{path}"


def _members(labeling, cluster: int) -> list[dict]:
    page = labeling.client.get(
        _url(labeling, f"clusters/{cluster}/members"), params={"limit": 1000}, headers=auth(VIEWER)
    )
    assert page.status_code == 200, page.text
    return page.json()["items"]


def _mixed_cluster(labeling) -> dict:
    """The non-empty cluster whose radiographs' true regions disagree most (the fixture misplaces some)."""
    truth = labeling.run.labels

    def purity(c: dict) -> float:
        regions = Counter(truth[m["image_id"]][0] for m in _members(labeling, c["cluster"]))
        return regions.most_common(1)[0][1] / sum(regions.values())

    candidates = [c for c in labeling.non_empty_clusters() if c["size"] >= 4]
    return min(candidates, key=purity)


def _publish(labeling) -> dict:
    answer = labeling.client.post(_url(labeling, "publish"), params={"allow_incomplete": True}, headers=auth(LENA))
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_mixed_cluster_splits_into_purer_parts_that_are_named_and_published(labeling):
    mixed = _mixed_cluster(labeling)
    before = _members(labeling, mixed["cluster"])
    truth = labeling.run.labels
    url = _url(labeling, f"clusters/{mixed['cluster']}/split")

    assert (
        labeling.client.post(url, json={"version": mixed["version"], "parts": 2}, headers=auth(VIEWER)).status_code
        == 403
    )
    assert (
        labeling.client.post(url, json={"version": mixed["version"], "parts": 5}, headers=auth(LENA)).status_code == 422
    )
    stale = labeling.client.post(url, json={"version": mixed["version"] + 1, "parts": 2}, headers=auth(LENA))
    assert stale.status_code == 409

    answer = labeling.client.post(url, json={"version": mixed["version"], "parts": 2}, headers=auth(LENA))
    assert answer.status_code == 201, answer.text
    parent, parts = answer.json()["cluster"], answer.json()["parts"]
    assert parent["split"] and parent["size"] == 0 and parent["version"] == mixed["version"] + 1
    assert len(parts) == 2 and all(p["parent"] == mixed["cluster"] for p in parts)
    assert sum(p["size"] for p in parts) == len(before)
    assert min(p["cluster"] for p in parts) > max(
        c["cluster"] for c in labeling.non_empty_clusters() if c["parent"] is None
    )

    # The fixture's embeddings follow the true region: the parts are purer than the mixed cluster was.
    def purity(members: list[dict]) -> float:
        regions = Counter(truth[m["image_id"]][0] for m in members)
        return regions.most_common(1)[0][1] / len(members)

    part_members = [_members(labeling, p["cluster"]) for p in parts]
    weighted = sum(purity(m) * len(m) for m in part_members) / len(before)
    assert weighted > purity(before), (weighted, purity(before))
    assert all(m["phase1_cluster"] == mixed["cluster"] for members in part_members for m in members)

    again = labeling.client.put(
        _url(labeling, f"clusters/{mixed['cluster']}/label"),
        json={"label": "hand", "version": parent["version"]},
        headers=auth(LENA),
    )
    assert again.status_code == 409 and "split" in again.json()["detail"], "a split cluster is decided by its parts"
    resplit = labeling.client.post(url, json={"version": parent["version"], "parts": 2}, headers=auth(LENA))
    assert resplit.status_code == 409 and "split already" in resplit.json()["detail"]
    unlabeled = labeling.client.get(
        _url(labeling, "clusters"), params={"status": "unlabeled", "limit": 1000}, headers=auth(VIEWER)
    ).json()["items"]
    assert mixed["cluster"] not in {c["cluster"] for c in unlabeled} and {p["cluster"] for p in parts} <= {
        c["cluster"] for c in unlabeled
    }

    for p, members in zip(parts, part_members, strict=True):
        name = Counter(truth[m["image_id"]][0] for m in members).most_common(1)[0][0]
        named = labeling.client.put(
            _url(labeling, f"clusters/{p['cluster']}/label"),
            json={"label": name, "version": p["version"]},
            headers=auth(LARS),
        )
        assert named.status_code == 200, named.text
    document = _publish(labeling)
    by_cluster = {c["cluster"]: c for c in document["clusters"]}
    assert by_cluster[mixed["cluster"]]["split_into"] == [p["cluster"] for p in parts]
    assert by_cluster[mixed["cluster"]]["label"] is None and by_cluster[mixed["cluster"]]["size"] == 0
    placed = {m["image_id"]: p["cluster"] for p, members in zip(parts, part_members, strict=True) for m in members}
    assert document["placements"] == placed
    assert document["decisions"]["splits"] == 1 and document["decisions"]["names"] == 2
    assert document["decisions"]["per_image"] == round(3 / len(labeling.run.image_ids), 6)

    # Undo: refused while a part has a name, allowed once the parts are back as the split left them.
    undo = _url(labeling, f"clusters/{mixed['cluster']}/undo")
    refused = labeling.client.post(undo, json={"version": parent["version"]}, headers=auth(LENA))
    assert refused.status_code == 409 and "part" in refused.json()["detail"]


def test_a_split_is_undone_whole(labeling):
    mixed = _mixed_cluster(labeling)
    before = sorted(m["image_id"] for m in _members(labeling, mixed["cluster"]))
    split = labeling.client.post(
        _url(labeling, f"clusters/{mixed['cluster']}/split"),
        json={"version": mixed["version"], "parts": 2},
        headers=auth(LENA),
    ).json()
    undone = labeling.client.post(
        _url(labeling, f"clusters/{mixed['cluster']}/undo"),
        json={"version": split["cluster"]["version"]},
        headers=auth(LENA),
    )
    assert undone.status_code == 200, undone.text
    assert undone.json()["split"] is False and undone.json()["size"] == len(before)
    assert sorted(m["image_id"] for m in _members(labeling, mixed["cluster"])) == before
    for part in split["parts"]:
        gone = labeling.client.get(_url(labeling, f"clusters/{part['cluster']}"), headers=auth(VIEWER))
        assert gone.status_code == 404
    assert labeling.cluster(mixed["cluster"])["suggestion"] == mixed["suggestion"], "suggestions follow the radiographs"


def test_strays_are_excluded_or_moved_and_undone(labeling):
    a, b = labeling.non_empty_clusters()[:2]
    [stray, moved, *_] = [m["image_id"] for m in _members(labeling, a["cluster"])]

    excluded = labeling.client.post(
        _url(labeling, f"clusters/{a['cluster']}/exclude"),
        json={"version": a["version"], "image_ids": [stray]},
        headers=auth(LENA),
    )
    assert excluded.status_code == 200, excluded.text
    assert excluded.json()["size"] == a["size"] - 1 and excluded.json()["version"] == a["version"] + 1
    pool = labeling.client.get(_url(labeling, "excluded"), headers=auth(VIEWER)).json()
    assert pool["total"] == 1 and pool["items"][0]["image_id"] == stray and pool["items"][0]["cluster"] is None
    assert stray not in {m["image_id"] for m in _members(labeling, a["cluster"])}

    not_there = labeling.client.post(
        _url(labeling, f"clusters/{a['cluster']}/exclude"),
        json={"version": a["version"] + 1, "image_ids": [stray]},
        headers=auth(LENA),
    )
    assert not_there.status_code == 422, "an excluded radiograph is no longer in the cluster"
    move_url = _url(labeling, f"clusters/{a['cluster']}/move")
    to_itself = labeling.client.post(
        move_url,
        json={"version": a["version"] + 1, "image_ids": [moved], "to_cluster": a["cluster"]},
        headers=auth(LENA),
    )
    assert to_itself.status_code == 422
    moved_answer = labeling.client.post(
        move_url,
        json={"version": a["version"] + 1, "image_ids": [moved], "to_cluster": b["cluster"]},
        headers=auth(LENA),
    )
    assert moved_answer.status_code == 200, moved_answer.text
    target = labeling.cluster(b["cluster"])
    assert target["size"] == b["size"] + 1 and target["version"] == b["version"] + 1, "the target moved on too"
    late = labeling.client.put(
        _url(labeling, f"clusters/{b['cluster']}/label"),
        json={"label": "knee", "version": b["version"]},
        headers=auth(LARS),
    )
    assert late.status_code == 409, "a labeler who saw the target before the move must reload"
    moved_member = next(m for m in _members(labeling, b["cluster"]) if m["image_id"] == moved)
    assert moved_member["phase1_cluster"] == a["cluster"]

    labeling.client.put(
        _url(labeling, f"clusters/{a['cluster']}/label"),
        json={"label": "hand", "version": a["version"] + 2},
        headers=auth(LENA),
    )
    labeling.client.put(
        _url(labeling, f"clusters/{b['cluster']}/label"),
        json={"label": "knee", "version": target["version"]},
        headers=auth(LENA),
    )
    document = _publish(labeling)
    assert document["excluded"] == [stray] and document["placements"] == {moved: b["cluster"]}
    assert document["decisions"]["exclusions"] == 1 and document["decisions"]["moves"] == 1
    progress = labeling.client.get(_url(labeling, "progress"), headers=auth(VIEWER)).json()
    assert progress["excluded"] == 1 and progress["decisions"] == document["decisions"]
    rows = labeling.client.get(_url(labeling, "labelsets/1.csv"), headers=auth(VIEWER)).text.splitlines()
    assert f"{stray},{a['cluster']}," in rows and f"{moved},{b['cluster']},knee" in rows

    # Undo from cluster a, latest first: its name, then the move, then the exclusion.
    undo = _url(labeling, f"clusters/{a['cluster']}/undo")
    for _ in range(3):
        version = labeling.cluster(a["cluster"])["version"]
        assert labeling.client.post(undo, json={"version": version}, headers=auth(LENA)).status_code == 200
    restored = labeling.cluster(a["cluster"])
    assert restored["size"] == a["size"] and restored["label"] is None
    assert {stray, moved} <= {m["image_id"] for m in _members(labeling, a["cluster"])}
    assert labeling.cluster(b["cluster"])["size"] == b["size"]
    assert labeling.client.get(_url(labeling, "excluded"), headers=auth(VIEWER)).json()["total"] == 0
