"""The demo's unattended naming (``samx_cli.pipeline.name_clusters_by_suggestions``) on a partly
labeled folder, against the real labeling service: clusters that no known label speaks for are left
for a radiologist and out of the label set, and the console says which; the run goes on to publish.

Seen before the fix: ``samx demo --data DIR`` on 5,477 radiographs of which 743 had no label stopped
with a traceback at publish (409: a cluster was neither named nor discarded)."""

from __future__ import annotations

import csv
from collections.abc import Iterator

import pytest
from rich.console import Console
from samx_cli.http_client import ServiceClient
from samx_cli.pipeline import name_clusters_by_suggestions
from samx_core.storage import ObjectStore

from tests.support.labeling_service import LabelingService, running_labeling_service
from tests.support.phase1_fixture import Phase1Run, build_phase1_run, publish_clustering_completed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture
def unlabeled_run(s3_settings, kafka_settings) -> Phase1Run:
    """A run without DICOM body parts: the folder's labels.csv is the only source of suggestions."""
    run = build_phase1_run(
        ObjectStore(s3_settings),
        s3_settings.archive_bucket,
        n_images=30,
        seed=11,
        split_above=1,
        body_part_fraction=0.0,
    )
    publish_clustering_completed(kafka_settings, run.event)
    return run


@pytest.fixture
def labeling(test_env, namespace, tmp_path, unlabeled_run) -> Iterator[LabelingService]:
    with running_labeling_service(test_env, namespace, tmp_path / "service", unlabeled_run.event.run_id) as service:
        yield service


def test_clusters_without_a_known_label_are_left_for_the_radiologist_and_the_run_publishes(
    labeling, unlabeled_run, tmp_path
):
    run = unlabeled_run
    sizes: dict[int, int] = {}
    for image_id in run.image_ids:
        sizes[run.cluster_of[image_id]] = sizes.get(run.cluster_of[image_id], 0) + 1
    by_size = sorted(sizes, key=lambda c: (-sizes[c], c))
    unknown = [by_size[0]]  # the largest cluster: nobody knows it
    # The next one's known labels mostly disagree (a mixed cluster): its suggestion is under the threshold.
    mixed = by_size[1]
    assert 2 <= sizes[mixed] <= 5, sizes
    others, seen_in_mixed = ["finger", "pelvis", "skull", "elbow", "foot", "hip"], 0
    folder = tmp_path / "data"
    (folder / "images").mkdir(parents=True)
    with (folder / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "labels"])
        for image_id in run.image_ids:
            name = f"images/{image_id}{run.files[image_id].suffix}"
            (folder / name).write_bytes(run.files[image_id].read_bytes())
            known = run.cluster_of[image_id] not in unknown
            label = ";".join(run.labels[image_id]) if known else ""
            if run.cluster_of[image_id] == mixed:
                seen_in_mixed += 1
                if seen_in_mixed > 1:  # the first keeps its label, each other one gets another name
                    label = [o for o in others if o not in run.labels[image_id]][seen_in_mixed - 2]
            writer.writerow([name, label])

    console = Console(record=True, width=400)
    client = ServiceClient(labeling.url, labeling.token)
    labelset = name_clusters_by_suggestions(client, run.event.run_id, folder, console)

    by_cluster = {c["cluster"]: c for c in labelset["clusters"]}
    undecided = [*unknown, mixed]
    assert all(by_cluster[c]["label"] is None and not by_cluster[c]["discarded"] for c in undecided)
    named = [c for c in sizes if c not in undecided]
    assert labelset["n_clusters_named"] == len(named) and all(by_cluster[c]["label"] for c in named)
    said = console.export_text()
    assert f"2 clusters ({sum(sizes[c] for c in undecided)} radiographs)" in said
    assert "1 left for a radiologist as likely mixed" in said
    assert "left undecided for a radiologist" in said
    assert all(f"{c} ({sizes[c]})" in said for c in undecided)
