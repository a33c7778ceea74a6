"""What the running app holds: the database, the token table, and the object-store/bus adapters."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from samx_core.auth import TokenGrant, TokenTable
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from samx_labeling.domain.explaining import Classifier
from samx_labeling.domain.ports import ImageLinks, LabelSetSink, RunEmbeddings


@dataclass
class AppContext:
    engine: Engine
    sessions: sessionmaker
    grants: TokenTable  # by token digest (samx_core.auth)
    links: ImageLinks
    # Built on first publish: the API can serve reads while the event bus is still starting.
    sink_factory: Callable[[], LabelSetSink]
    web_dir: Path
    consumer_alive: Callable[[], bool] | None = None
    embeddings: RunEmbeddings | None = None  # phase 1's embeddings, for splits (None: splits answer 409)
    suggestion_min_share: float = 0.6  # LabelingSettings.suggestion_min_share
    classifier: Classifier | None = None  # serving's explain (None: the page says no classifier is connected)
    image_origins: tuple[str, ...] = ()  # where presigned image URLs point (the page's CSP allows them)
    # Readiness beyond the database: dependency name -> a bounded check (samx_core.reachability)
    dependency_checks: dict[str, Callable[[], bool]] = field(default_factory=dict)
    _sink: LabelSetSink | None = field(default=None, init=False)
    _sink_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    @classmethod
    def with_tokens(cls, grants: dict[str, TokenGrant], **kwargs) -> AppContext:
        return cls(grants=TokenTable.from_tokens(grants), **kwargs)

    def sink(self) -> LabelSetSink:
        with self._sink_lock:
            if self._sink is None:
                self._sink = self.sink_factory()
            return self._sink

    def close(self) -> None:
        """Closes the event-bus connection (if a publish opened one) and the database pool."""
        with self._sink_lock:
            if self._sink is not None:
                self._sink.close()
                self._sink = None
        self.engine.dispose()
