"""The demo's unattended naming (``samx_cli.pipeline.name_clusters_by_suggestions``) on a partly
labeled folder, against the real labeling service: clusters that no known label speaks for are left
for a radiologist and out of the label set, and the console says which; the run goes on to publish.

Seen before the fix: ``samx demo --data DIR`` on 5,477 radiographs of which 743 had no label stopped
with a traceback at publish (409: a cluster was neither named nor discarded)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rich.console import Console
from samx_cli.http_client import ServiceClient
from samx_cli.pipeline import name_clusters_by_suggestions
from samx_core.labels import canonical_label
from samx_core.storage import ObjectStore

from tests.support.labeling_service import LabelingService, running_labeling_service
from tests.support.phase1_fixture import Phase1Run, build_phase1_run, publish_clustering_completed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


RUN_SHAPES = {
    # SCAN's over-clustering: every region in two clusters.
    "over-clustered": {"n_images": 30, "seed": 11, "split_above": 1},
    # Whole regions per cluster, a quarter of the radiographs misplaced: several clusters under the threshold.
    "mixed": {"n_images": 40, "seed": 11, "split_above": 1000, "noise": 0.25},
}


@pytest.fixture
def run(request, s3_settings, kafka_settings) -> Phase1Run:
    """A run without DICOM body parts (the folder's labels.csv is the only source of suggestions), of the
    shape the test asks for (indirect parametrization)."""
    shape = RUN_SHAPES[request.param]
    built = build_phase1_run(ObjectStore(s3_settings), s3_settings.archive_bucket, body_part_fraction=0.0, **shape)
    publish_clustering_completed(kafka_settings, built.event)
    return built


@pytest.fixture
def labeling(test_env, namespace, tmp_path, run) -> Iterator[LabelingService]:
    with running_labeling_service(test_env, namespace, tmp_path / "service", run.event.run_id) as service:
        yield service


def _data_folder(run: Phase1Run, tmp_path: Path, label_of: Callable[[str], str]) -> Path:
    """A data folder as `samx demo --data` takes it: the run's radiographs and a labels.csv (image, labels)."""
    folder = tmp_path / "data"
    (folder / "images").mkdir(parents=True)
    with (folder / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "labels"])
        for image_id in run.image_ids:
            name = f"images/{image_id}{run.files[image_id].suffix}"
            (folder / name).write_bytes(run.files[image_id].read_bytes())
            writer.writerow([name, label_of(image_id)])
    return folder


@pytest.mark.parametrize("run", ["over-clustered"], indirect=True)
def test_clusters_without_a_known_label_are_left_for_the_radiologist_and_the_run_publishes(labeling, run, tmp_path):
    sizes: dict[int, int] = {}
    for image_id in run.image_ids:
        sizes[run.cluster_of[image_id]] = sizes.get(run.cluster_of[image_id], 0) + 1
    by_size = sorted(sizes, key=lambda c: (-sizes[c], c))
    unknown = [by_size[0]]  # the largest cluster: nobody knows it
    # The next one's known labels mostly disagree (a mixed cluster): its suggestion is under the threshold.
    mixed = by_size[1]
    assert 2 <= sizes[mixed] <= 5, sizes
    others, seen_in_mixed = ["finger", "pelvis", "skull", "elbow", "foot", "hip"], 0

    def label_of(image_id: str) -> str:
        nonlocal seen_in_mixed
        label = ";".join(run.labels[image_id]) if run.cluster_of[image_id] not in unknown else ""
        if run.cluster_of[image_id] == mixed:
            seen_in_mixed += 1
            if seen_in_mixed > 1:  # the first keeps its label, each other one gets another name
                label = [o for o in others if o not in run.labels[image_id]][seen_in_mixed - 2]
        return label

    folder = _data_folder(run, tmp_path, label_of)

    console = Console(record=True, width=400)
    client = ServiceClient(labeling.url, labeling.token)
    labelset = name_clusters_by_suggestions(client, run.event.run_id, folder, console)

    by_cluster = {c["cluster"]: c for c in labelset["clusters"]}
    # The cluster no known label speaks for stays undecided and out of the label set.
    assert all(by_cluster[c]["label"] is None and not by_cluster[c]["discarded"] for c in unknown)
    # The mixed one (too small to split) is named after its suggestion, confirmed, and flagged for a look.
    assert by_cluster[mixed]["label"] is not None and by_cluster[mixed]["flagged"]
    named = [c for c in sizes if c not in unknown]
    assert labelset["n_clusters_named"] == len(named) and all(by_cluster[c]["label"] for c in named)
    assert [c for c in named if by_cluster[c]["flagged"]] == [mixed], "only the mixed cluster is flagged"
    said = console.export_text()
    assert f"1 clusters ({sizes[unknown[0]]} radiographs)" in said
    assert "1 cluster(s) still under 60% agreement" in said and f"clusters {mixed}" in said
    assert "left undecided for a radiologist" in said
    assert f"{unknown[0]} ({sizes[unknown[0]]})" in said


@pytest.mark.parametrize("run", ["mixed"], indirect=True)
def test_likely_mixed_clusters_are_split_and_their_agreed_parts_named(labeling, run, tmp_path):
    folder = _data_folder(run, tmp_path, lambda image_id: ";".join(run.labels[image_id]))

    console = Console(record=True, width=400)
    labelset = name_clusters_by_suggestions(
        ServiceClient(labeling.url, labeling.token), run.event.run_id, folder, console
    )

    assert labelset["decisions"]["splits"] >= 1 and labelset["placements"], "no cluster was split"
    assert "likely mixed cluster(s)" in console.export_text()
    names = {c["cluster"]: c["label"] for c in labelset["clusters"]}
    split = {c["cluster"] for c in labelset["clusters"] if c["split_into"]}
    assert all(names[c] is None for c in split)
    # Every named radiograph, where the label set placed it: the names are right more often than naming
    # the phase-1 clusters by their majority would be.
    placed = {i: labelset["placements"].get(i, run.cluster_of[i]) for i in run.image_ids}
    named = [i for i in run.image_ids if names.get(placed[i])]
    right = sum(canonical_label(names[placed[i]]) in {canonical_label(t) for t in run.labels[i]} for i in named)
    right /= len(named)
    majority = sum(run.cluster_truth[run.cluster_of[i]] == run.labels[i][0] for i in run.image_ids) / len(run.image_ids)
    assert right > majority, (right, majority)
