"""Fixtures of the deployment tests: the offline chart and its renderings, shared by the modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.helm import VALUES, Rendered, offline_chart, render


@pytest.fixture(scope="session")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return offline_chart(tmp_path_factory.mktemp("chart"))


@pytest.fixture(scope="session")
def rendered(chart: Path) -> dict[str, Rendered]:
    return {name: render(chart, files) for name, files in VALUES.items()}
