"""Errors that decide what a consumer does with a message."""


class RetryableError(Exception):
    """The infrastructure failed (object store or broker unreachable), not the message. The consumer
    keeps the message and retries it with back-off instead of dead-lettering it: an outage must not
    turn a hospital's radiographs into dead letters."""


class PublishFailedError(Exception):
    """At least one event published since the last flush was not acknowledged by the brokers. Whoever
    published must not treat that work as done (a consumer re-processes its batch)."""
