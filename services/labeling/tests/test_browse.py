"""Reading a labeling session: runs, clusters (sorted, filtered, paged), members, image URLs, progress."""

from __future__ import annotations

import httpx

from .conftest import LENA, VIEWER, auth


def test_run_is_listed_with_its_clusters_sorted_and_paged(labeling):
    client, run_id, run = labeling.client, labeling.run_id, labeling.run
    runs = client.get("/api/v1/runs", headers=auth(VIEWER)).json()["items"]
    assert [r["run_id"] for r in runs] == [run_id]
    one = client.get(f"/api/v1/runs/{run_id}", headers=auth(VIEWER)).json()
    assert one["n_images"] == len(run.image_ids) and one["n_clusters"] == run.event.n_clusters

    page = client.get(f"/api/v1/runs/{run_id}/clusters", params={"limit": 1000}, headers=auth(VIEWER)).json()
    sizes = [c["size"] for c in page["items"]]
    assert page["total"] == run.event.n_clusters
    assert sizes == sorted(sizes, reverse=True), "default order: largest cluster first"
    expected = {c: sum(1 for v in run.cluster_of.values() if v == c) for c in range(run.event.n_clusters)}
    assert {c["cluster"]: c["size"] for c in page["items"]} == expected

    by_confidence = client.get(
        f"/api/v1/runs/{run_id}/clusters",
        params={"sort": "confidence", "order": "asc", "limit": 1000},
        headers=auth(VIEWER),
    ).json()["items"]
    confidences = [c["mean_confidence"] for c in by_confidence]
    assert confidences[-1] is None, "the empty cluster has no confidence and sorts last"
    assert confidences[:-1] == sorted(confidences[:-1])

    first = client.get(
        f"/api/v1/runs/{run_id}/clusters",
        params={"sort": "cluster", "order": "asc", "offset": 2, "limit": 3},
        headers=auth(VIEWER),
    ).json()
    assert [c["cluster"] for c in first["items"]] == [2, 3, 4] and first["offset"] == 2 and first["limit"] == 3


def test_montage_and_thumbnail_urls_load_real_images(labeling):
    biggest = labeling.client.get(
        f"/api/v1/runs/{labeling.run_id}/clusters", params={"limit": 1}, headers=auth(VIEWER)
    ).json()["items"][0]
    montage = httpx.get(biggest["montage_url"], timeout=10)
    assert montage.status_code == 200 and montage.content.startswith(b"\x89PNG")
    assert biggest["exemplars"], "exemplars come from clusters.json"
    exemplar = biggest["exemplars"][0]
    assert labeling.run.cluster_of[exemplar["image_id"]] == biggest["cluster"]
    thumb = httpx.get(exemplar["thumbnail_url"], timeout=10)
    assert thumb.status_code == 200 and thumb.content.startswith(b"\x89PNG")
    empty = labeling.client.get(
        f"/api/v1/runs/{labeling.run_id}/clusters",
        params={"sort": "size", "order": "asc", "limit": 1},
        headers=auth(VIEWER),
    ).json()["items"][0]
    assert empty["size"] == 0 and empty["montage_url"] is None and empty["exemplars"] == []


def test_members_most_and_least_confident(labeling):
    run = labeling.run
    cluster = max(set(run.cluster_of.values()), key=lambda c: sum(1 for v in run.cluster_of.values() if v == c))
    url = f"/api/v1/runs/{labeling.run_id}/clusters/{cluster}/members"
    most = labeling.client.get(url, params={"order": "most", "limit": 1000}, headers=auth(VIEWER)).json()
    least = labeling.client.get(url, params={"order": "least", "limit": 2}, headers=auth(VIEWER)).json()
    members = {i for i, c in run.cluster_of.items() if c == cluster}
    assert most["total"] == len(members) and {m["image_id"] for m in most["items"]} == members
    confidences = [m["confidence"] for m in most["items"]]
    assert confidences == sorted(confidences, reverse=True)
    assert [m["image_id"] for m in least["items"]] == [m["image_id"] for m in most["items"][::-1][:2]]
    assert httpx.get(least["items"][0]["thumbnail_url"], timeout=10).content.startswith(b"\x89PNG")


def test_progress_counts_clusters_and_images(labeling):
    client, run_id = labeling.client, labeling.run_id
    clusters = labeling.non_empty_clusters()
    first, second = clusters[0], clusters[1]
    client.put(
        f"/api/v1/runs/{run_id}/clusters/{first['cluster']}/label",
        json={"label": "knee", "version": first["version"]},
        headers=auth(LENA),
    )
    client.post(
        f"/api/v1/runs/{run_id}/clusters/{second['cluster']}/discard",
        json={"version": second["version"], "reason": "not MSK"},
        headers=auth(LENA),
    )
    progress = client.get(f"/api/v1/runs/{run_id}/progress", headers=auth(VIEWER)).json()
    n_images = len(labeling.run.image_ids)
    assert progress["clusters"] == {
        "total": labeling.run.event.n_clusters,
        "labeled": 1,
        "discarded": 1,
        "flagged": 0,
        "left": len(clusters) - 2,
    }
    assert progress["images"] == {
        "total": n_images,
        "labeled": first["size"],
        "discarded": second["size"],
        "flagged": 0,
        "left": n_images - first["size"] - second["size"],
    }
    assert progress["empty_clusters"] == 1 and progress["classes"] == 1
