"""Event contracts: one frozen model per topic. ``ALL_EVENTS`` is the registry that schema export,
topic creation and consumers use."""

from samx_core.events.base import Event, ObjectRef
from samx_core.events.clustering_completed import ClusteringCompleted
from samx_core.events.dead_letter import DeadLetter
from samx_core.events.labels_published import LabelsPublished
from samx_core.events.model_published import ModelPublished
from samx_core.events.phase1_requested import Phase1Requested
from samx_core.events.radiograph_classified import ClassificationFlags, RadiographClassified, ScoredLabel
from samx_core.events.radiograph_duplicate import RadiographDuplicate
from samx_core.events.radiograph_ingested import RadiographIngested
from samx_core.events.radiograph_received import MAX_INLINE_BYTES, RadiographReceived
from samx_core.events.radiograph_rejected import RadiographRejected

ALL_EVENTS: tuple[type[Event], ...] = (
    RadiographReceived,
    RadiographIngested,
    RadiographRejected,
    RadiographDuplicate,
    DeadLetter,
    Phase1Requested,
    ClusteringCompleted,
    LabelsPublished,
    ModelPublished,
    RadiographClassified,
)


def event_type_for_topic(topic: str) -> type[Event]:
    for event_type in ALL_EVENTS:
        if event_type.TOPIC == topic:
            return event_type
    raise KeyError(f"no event type is registered for topic {topic!r}")


__all__ = [
    "ALL_EVENTS",
    "MAX_INLINE_BYTES",
    "ClassificationFlags",
    "ClusteringCompleted",
    "DeadLetter",
    "Event",
    "LabelsPublished",
    "ModelPublished",
    "Phase1Requested",
    "ObjectRef",
    "RadiographClassified",
    "RadiographDuplicate",
    "RadiographIngested",
    "RadiographReceived",
    "RadiographRejected",
    "ScoredLabel",
    "event_type_for_topic",
]
