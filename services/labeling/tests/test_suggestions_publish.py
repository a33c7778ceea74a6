"""Suggestions (known labels CSV, DICOM BodyPartExamined), accepting them, and publishing label sets:
the JSON lands in MinIO and ``labels.published`` on Kafka."""

from __future__ import annotations

import csv
import io
import json

from samx_core.bus.reader import EventReader
from samx_core.events import LabelsPublished

from .conftest import LENA, VIEWER, auth


def _suggestions(labeling) -> list[dict]:
    return labeling.client.get(f"/api/v1/runs/{labeling.run_id}/suggestions", headers=auth(VIEWER)).json()["items"]


def test_dicom_body_part_suggestions_come_with_the_session(labeling):
    dicom = [s for s in _suggestions(labeling) if s["source"] == "dicom"]
    run = labeling.run
    assert dicom, "the fixture gives about half of the radiographs a BodyPartExamined"
    tagged_clusters = {run.cluster_of[i] for i in run.body_part}
    assert {s["cluster"] for s in dicom} <= tagged_clusters
    for s in dicom:
        voters = [i for i in run.body_part if run.cluster_of[i] == s["cluster"]]
        assert s["support"] == len(voters) and 0 < s["share"] <= 1


def test_csv_suggestions_are_shown_then_applied_only_when_accepted(labeling):
    run, client, url = labeling.run, labeling.client, f"/api/v1/runs/{labeling.run_id}/suggestions"
    # Known labels as they are, except for the largest cluster's: two in three of its images carry
    # other names (a mixed cluster, as phase 1 makes them), so its suggestion has a low share.
    mixed = max(run.cluster_truth, key=lambda c: sum(run.cluster_of[i] == c for i in run.image_ids))
    others = [n for n in ("skull", "pelvis", "hand", "knee", "chest") if n != run.cluster_truth[mixed]]
    rows, k = ["sha256,labels"], 0
    for i in run.image_ids:
        label = ";".join(run.labels[i])
        if run.cluster_of[i] == mixed:
            label, k = (label if k % 3 == 0 else others[k % len(others)]), k + 1
        rows.append(f"{run.sha256[i]},{label}")
    text = "\n".join(rows) + "\n" + "0" * 64 + ",hand\n"  # the last row: an image not in the run
    uploaded = client.post(url, content=text.encode(), headers={**auth(LENA), "Content-Type": "text/csv"})
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json() == {
        "rows": len(run.image_ids) + 1,
        "matched_images": len(run.image_ids),
        "unmatched_rows": 1,
        "clusters_suggested": len(run.cluster_truth),
    }
    shown = {s["cluster"]: s for s in _suggestions(labeling) if s["source"] == "csv"}
    # Majority of each cluster's primary labels; "lumbar_spine" comes back as the vocabulary's "lumbar spine".
    agree = sum(shown[c]["label"] == truth.replace("_", " ") for c, truth in run.cluster_truth.items())
    assert agree >= 0.8 * len(run.cluster_truth) - 1
    assert shown[mixed]["share"] < 0.6
    listed = {c["cluster"]: c for c in labeling.non_empty_clusters()}
    assert all(c["label"] is None for c in listed.values()), "suggestions are never applied silently"
    assert all(listed[c]["suggestion"]["source"] == "csv" for c in shown), "known labels outrank DICOM tags"

    assert all(listed[c]["suggestion"]["below_threshold"] == (s["share"] < 0.6) for c, s in shown.items())

    # By default only suggestions that at least 60 % of a cluster's known radiographs agree with.
    agreed = {c for c, s in shown.items() if s["share"] >= 0.6}
    assert 0 < len(agreed) < len(shown), "the fixture has mixed clusters too"
    accepted = client.post(f"{url}/accept", json={}, headers=auth(LENA)).json()
    assert accepted == {
        "accepted": len(agreed),
        "skipped": len(shown) - len(agreed),
        "below_threshold": len(shown) - len(agreed),
        "min_share": 0.6,
    }
    labels = {c["cluster"]: c["label"] for c in labeling.non_empty_clusters()}
    assert all(labels[c] == (shown[c]["label"] if c in agreed else None) for c in shown)
    # Under the threshold only with an explicit confirmation.
    refused = client.post(f"{url}/accept", json={"min_share": 0.0}, headers=auth(LENA))
    assert refused.status_code == 422 and "confirm_below_threshold" in refused.text
    rest = client.post(f"{url}/accept", json={"min_share": 0.0, "confirm_below_threshold": True}, headers=auth(LENA))
    assert rest.json()["accepted"] == len(shown) - len(agreed)
    labels = {c["cluster"]: c["label"] for c in labeling.non_empty_clusters()}
    assert all(labels[c] == shown[c]["label"] for c in shown)
    listed = {c["cluster"]: c for c in labeling.non_empty_clusters()}
    assert all(listed[c]["suggestion"]["share"] == shown[c]["share"] for c in shown), "the share stays visible"
    # The audit says who accepted which suggestion, on what agreement.
    audit = client.get(f"/api/v1/runs/{labeling.run_id}/audit", params={"limit": 1000}, headers=auth(VIEWER)).json()
    accepts = [e for e in audit["items"] if e["action"] == "accept_suggestion"]
    assert len(accepts) == len(shown)
    for entry in accepts:
        evidence = entry["after"]["evidence"]
        assert entry["who"] == "lena" and evidence["share"] == round(shown[entry["cluster"]]["share"], 4)
        assert evidence["min_share"] == (0.6 if entry["cluster"] in agreed else 0.0)
    again = client.post(f"{url}/accept", json={}, headers=auth(LENA)).json()
    assert (again["accepted"], again["skipped"]) == (0, 0), "only still-unlabeled clusters are touched"


def test_a_csv_that_suggests_nothing_is_refused_and_keeps_the_earlier_suggestions(labeling):
    run, client, url = labeling.run, labeling.client, f"/api/v1/runs/{labeling.run_id}/suggestions"
    headers = {**auth(LENA), "Content-Type": "text/csv"}
    assert client.post(url, content=run.known_labels_csv().encode(), headers=headers).status_code == 200
    before = [s for s in _suggestions(labeling) if s["source"] == "csv"]
    assert before
    invalid = "image_id,labels\n" + "".join(f"{i},<script>;;__\n" for i in run.image_ids)
    unknown = "image_id,labels\n" + "".join(f"not-{i},hand\n" for i in run.image_ids[:5])
    for text, why in ((invalid, f"{2 * len(run.image_ids)} labels are not valid"), (unknown, "5 match no")):
        refused = client.post(url, content=text.encode(), headers=headers)
        assert refused.status_code == 422, refused.text
        assert why in refused.text and "earlier suggestions are kept" in refused.text
    assert [s for s in _suggestions(labeling) if s["source"] == "csv"] == before


def test_publish_freezes_a_versioned_label_set_in_minio_and_on_kafka(labeling):
    client, run_id = labeling.client, labeling.run_id
    clusters = labeling.non_empty_clusters()
    nothing = client.post(f"/api/v1/runs/{run_id}/publish", params={"allow_incomplete": True}, headers=auth(LENA))
    assert nothing.status_code == 409, "no names yet"
    named, rest = clusters[:-1], clusters[-1]
    items = [
        {"cluster": c["cluster"], "label": "hand" if i % 2 else "knee", "version": c["version"]}
        for i, c in enumerate(named)
    ]
    assert client.post(f"/api/v1/runs/{run_id}/labels", json={"items": items}, headers=auth(LENA)).status_code == 200
    incomplete = client.post(f"/api/v1/runs/{run_id}/publish", headers=auth(LENA))
    assert incomplete.status_code == 409 and "neither named nor discarded" in incomplete.json()["detail"]
    client.post(
        f"/api/v1/runs/{run_id}/clusters/{rest['cluster']}/discard",
        json={"version": rest["version"], "reason": "not MSK"},
        headers=auth(LENA),
    )
    client.post(
        f"/api/v1/runs/{run_id}/clusters/{named[0]['cluster']}/flag",
        json={"version": 2, "flagged": True},
        headers=auth(LENA),
    )

    reader = EventReader(labeling.kafka, [LabelsPublished.TOPIC]) if _topic_exists(labeling) else None
    published = client.post(f"/api/v1/runs/{run_id}/publish", headers=auth(LENA))
    assert published.status_code == 201, published.text
    document = published.json()
    assert document["version"] == 1 and document["classes"] == ["hand", "knee"]
    assert document["n_clusters_named"] == len(named) and document["n_clusters_discarded"] == 1
    assert document["n_images_named"] == sum(c["size"] for c in named)
    by_cluster = {c["cluster"]: c for c in document["clusters"]}
    assert by_cluster[rest["cluster"]] == {
        "cluster": rest["cluster"],
        "size": rest["size"],
        "label": None,
        "discarded": True,
        "flagged": False,
        "parent": None,
        "split_into": [],
    }
    assert document["placements"] == {} and document["excluded"] == []
    assert document["decisions"]["names"] == len(named) and document["decisions"]["discards"] == 1
    assert by_cluster[named[0]["cluster"]]["flagged"] is True

    stored = json.loads(labeling.store.get_bytes(labeling.bucket, f"labelsets/{run_id}/v1.json"))
    assert stored == json.loads(client.get(f"/api/v1/runs/{run_id}/labelsets/1", headers=auth(VIEWER)).text)
    assert stored["clusters"] == document["clusters"]

    reader = reader or EventReader(labeling.kafka, [LabelsPublished.TOPIC], from_beginning=True)
    with reader:
        events = [e for e in reader.events(timeout_s=20, idle_s=3) if e.run_id == run_id]
    [event] = events
    assert event.labelset_version == 1 and event.labelset.key == f"labelsets/{run_id}/v1.json"
    assert event.classes == ["hand", "knee"] and event.published_by == "lena"
    assert event.n_images_named == document["n_images_named"]
    listed = client.get(f"/api/v1/runs/{run_id}/labelsets", headers=auth(VIEWER)).json()["items"]
    assert [(s["version"], s["sha256"]) for s in listed] == [(1, event.labelset.sha256)]

    exported = client.get(f"/api/v1/runs/{run_id}/labelsets/1.csv", headers=auth(VIEWER))
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == len(labeling.run.image_ids)
    names = {c["cluster"]: c["label"] or "" for c in document["clusters"]}
    assert all(r["label"] == names[int(r["cluster"])] for r in rows)
    assert all(int(r["cluster"]) == labeling.run.cluster_of[r["image_id"]] for r in rows)

    relabel = client.put(
        f"/api/v1/runs/{run_id}/clusters/{named[1]['cluster']}/label",
        json={"label": "foot", "version": 2},
        headers=auth(LENA),
    )
    assert relabel.status_code == 200
    second = client.post(f"/api/v1/runs/{run_id}/publish", headers=auth(LENA)).json()
    assert second["version"] == 2 and "foot" in second["classes"]
    first_again = client.get(f"/api/v1/runs/{run_id}/labelsets/1", headers=auth(VIEWER)).json()
    assert first_again["classes"] == ["hand", "knee"], "a published label set never changes"


def _topic_exists(labeling) -> bool:
    try:
        EventReader(labeling.kafka, [LabelsPublished.TOPIC]).close()
        return True
    except RuntimeError:
        return False
