"""Domain failures; the API maps each to one HTTP status with a message."""


class NotFoundError(LookupError):
    """Unknown run, cluster, label set or image (404)."""


class ConflictError(RuntimeError):
    """The state moved on: stale version, nothing to undo, nothing to publish (409)."""


class InvalidInputError(ValueError):
    """Input that is well-formed but unusable, such as a CSV without the needed columns (422)."""
