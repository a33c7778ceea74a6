"""Hot swap: on ``model.published``, move the running application to the new version.

The deploy process runs this consumer. Applying a version re-runs the same application with the model
deployment's user_config changed, which Serve applies as a lightweight update (``reconfigure`` on the
live replicas, see batched_model.py): no replica restarts, no request fails."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from samx_core.events import ModelPublished

from samx_serving.app import AppArgs

log = logging.getLogger(__name__)


class ModelSwapper:
    def __init__(self, args: AppArgs, apply: Callable[[AppArgs], None]) -> None:
        self._args, self._apply = args, apply
        self._lock = threading.Lock()

    @property
    def version(self) -> str | None:
        return self._args.model_version

    def on_model_published(self, event: ModelPublished) -> None:
        with self._lock:
            if event.model_version == self._args.model_version:
                return  # a re-delivery, or the version we started with
            new = self._args.with_version(event.model_version)
            self._apply(new)  # returns once the replicas serve the new version
            self._args = new
            log.info("now serving model version %s", event.model_version)
