"""The event bus adapter: Kafka through kafka-python. Domain code sees ``EventPublisher`` and handler
callables; only this package knows Kafka."""

from samx_core.bus.consumer import EventConsumer, HandlerOutcome
from samx_core.bus.errors import PublishFailedError, RetryableError
from samx_core.bus.producer import EventPublisher
from samx_core.bus.topics import ensure_topics

__all__ = ["EventConsumer", "EventPublisher", "HandlerOutcome", "PublishFailedError", "RetryableError", "ensure_topics"]
