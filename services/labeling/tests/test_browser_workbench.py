"""The workbench in a real browser (Chromium through Playwright) against the real service, keyboard only:
open a cluster's members in the viewer, page through them, change zoom and window/level, exclude a stray
and undo that, split the cluster and name its first part, name an excluded radiograph in the pool (and
undo that name); then the published label set is checked through the API. Screenshots of the viewer, the
split and the pool are kept in ``.samx/test-artifacts/``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect
from samx_core.storage import ObjectStore

from tests.support.browser import browser_page, chromium_missing
from tests.support.labeling_service import LabelingService, running_labeling_service
from tests.support.phase1_fixture import Phase1Run, build_phase1_run, publish_clustering_completed

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(180),
    pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or ""),
]
expect.set_options(timeout=15_000)

ARTIFACTS = Path(__file__).resolve().parents[3] / ".samx" / "test-artifacts"


@pytest.fixture
def mixed_run(s3_settings, kafka_settings) -> Phase1Run:
    """Whole regions per cluster, a quarter of the radiographs misplaced: clusters worth a look inside."""
    run = build_phase1_run(
        ObjectStore(s3_settings), s3_settings.archive_bucket, n_images=40, seed=11, split_above=1000, noise=0.25
    )
    publish_clustering_completed(kafka_settings, run.event)
    return run


@pytest.fixture
def service(test_env, namespace, tmp_path, mixed_run) -> Iterator[LabelingService]:
    with running_labeling_service(test_env, namespace, tmp_path, mixed_run.event.run_id) as running:
        yield running


def test_a_radiologist_views_excludes_splits_and_names_parts_from_the_keyboard(service, mixed_run):
    run_id = mixed_run.event.run_id
    api = httpx.Client(base_url=f"{service.url}/api/v1/runs/{run_id}", headers=service.headers)
    sizes: dict[int, int] = {}
    for image_id in mixed_run.image_ids:
        sizes[mixed_run.cluster_of[image_id]] = sizes.get(mixed_run.cluster_of[image_id], 0) + 1
    c = max(sizes, key=lambda k: (sizes[k], -k))
    assert sizes[c] >= 4, sizes

    with browser_page() as (page, problems):
        title, facts = page.locator("#cluster-title"), page.locator("#viewer-facts")
        page.goto(f"{service.url}/#run={run_id}&cluster={c}&sort=cluster&order=asc&status=all")
        page.fill("#token-input", service.token)
        page.keyboard.press("Enter")
        expect(title).to_have_text(f"Cluster {c}")
        expect(page.locator("#members-total")).to_contain_text(f"{sizes[c]} in all")

        # Enter on a member opens the viewer at full resolution (the derivative, not the thumbnail).
        page.locator("#members-most .member").first.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#viewer-dialog")).to_be_visible()
        expect(facts).to_contain_text(f"1 / {sizes[c]}")
        src = page.locator("#viewer-image").get_attribute("src") or ""
        assert "derived/" in src and ".thumb." not in src, src
        page.keyboard.press("ArrowRight")
        expect(facts).to_contain_text(f"2 / {sizes[c]}")
        stage = page.locator("#viewer-stage")
        for key in ("B", "B", "C", "+"):
            page.keyboard.press(key)
        expect(stage).to_have_attribute("data-level", "1.20")
        expect(stage).to_have_attribute("data-window", "1.10")
        expect(page.locator("#viewer-display")).to_contain_text("zoom 1.25")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "labeling-viewer.png"))

        # x excludes the radiograph shown; the viewer goes on with the next one.
        page.keyboard.press("x")
        expect(page.locator("#notice")).to_contain_text("Excluded")
        expect(facts).to_contain_text(f"/ {sizes[c] - 1}")
        assert api.get(f"/clusters/{c}").json()["size"] == sizes[c] - 1
        assert api.get("/excluded").json()["total"] == 1
        page.keyboard.press("Escape")
        expect(page.locator("#viewer-dialog")).to_be_hidden()
        expect(page.locator("#cluster-view")).to_be_focused()
        page.keyboard.press("u")
        expect(page.locator("#notice")).to_contain_text("Undone")
        assert api.get(f"/clusters/{c}").json()["size"] == sizes[c]
        assert api.get("/excluded").json()["total"] == 0

        # s splits (Enter: two parts); the page opens the first part, which is named like any cluster.
        page.keyboard.press("s")
        page.locator("#split-dialog[open]").wait_for()
        page.keyboard.press("Enter")
        expect(page.locator("#cluster-facts")).to_contain_text(f"part of cluster {c}")
        first = int(title.text_content().split()[-1])
        page.screenshot(path=str(ARTIFACTS / "labeling-split.png"))
        expect(page.locator("#label-input")).to_be_focused()  # the part opens ready to be named
        page.keyboard.type("hand")
        page.keyboard.press("Enter")
        expect(title).not_to_have_text(f"Cluster {first}")

        # The excluded pool, named one by one: v, x excludes a stray; e opens the pool, a names it (the
        # vocabulary's datalist autocompletes), u undoes that name, a names it again. g beside it says that
        # no classifier is connected to this service (a served model's Grad-CAM: tests/integration).
        page.keyboard.press("Escape")  # out of the next cluster's label box
        expect(page.locator("#cluster-view")).to_be_focused()
        page.keyboard.press("v")
        expect(page.locator("#viewer-dialog")).to_be_visible()
        page.keyboard.press("x")
        expect(page.locator("#notice")).to_contain_text("Excluded")
        if page.locator("#viewer-dialog[open]").count():  # the viewer closes itself after a cluster's last one
            page.keyboard.press("Escape")
        expect(page.locator("#viewer-dialog")).to_be_hidden()
        expect(page.locator("#cluster-view")).to_be_focused()
        [stray] = [m["image_id"] for m in api.get("/excluded").json()["items"]]
        page.keyboard.press("e")
        expect(page.locator("#viewer-title")).to_contain_text("Excluded pool")
        expect(facts).to_contain_text("not named")
        page.keyboard.press("g")
        expect(page.locator("#viewer-cam")).to_contain_text("no classifier connected")
        page.keyboard.press("a")
        expect(page.locator("#viewer-name-input")).to_be_focused()
        assert page.locator("#viewer-name-input").get_attribute("list") == "vocabulary"
        page.keyboard.type("skull")
        page.keyboard.press("Enter")
        expect(page.locator("#notice")).to_contain_text("Named skull")
        expect(facts).to_contain_text("named skull")
        assert api.get("/excluded").json()["items"][0]["label"] == "skull"
        page.keyboard.press("u")
        expect(facts).to_contain_text("not named")
        assert api.get("/excluded").json()["items"][0]["label"] is None
        page.keyboard.press("a")
        page.keyboard.type("skull")
        page.keyboard.press("Enter")
        expect(facts).to_contain_text("named skull")
        page.screenshot(path=str(ARTIFACTS / "labeling-pool.png"))
        page.keyboard.press("Escape")
        expect(page.locator("#viewer-dialog")).to_be_hidden()
        assert problems.page_errors == []

    parent = api.get(f"/clusters/{c}").json()
    assert parent["split"] and parent["size"] == 0
    parts = [p for p in api.get("/clusters", params={"limit": 1000}).json()["items"] if p["parent"] == c]
    moved = {i for i in mixed_run.image_ids if mixed_run.cluster_of[i] == c}
    assert len(parts) == 2 and sum(p["size"] for p in parts) + (stray in moved) == sizes[c]
    assert api.get(f"/clusters/{first}").json()["label"] == "hand"
    published = api.post("/publish", params={"allow_incomplete": True})
    assert published.status_code in (201, 202), published.text
    document = published.json()
    assert set(document["placements"]) == moved - {stray} and document["decisions"]["splits"] == 1
    assert document["labels"] == {stray: "skull"} and stray in document["excluded"]
    assert document["decisions"]["image_names"] == 1 and "skull" in document["classes"]
