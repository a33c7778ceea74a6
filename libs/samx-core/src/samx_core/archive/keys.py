"""What every key parser of the archive shares: the name a ``<prefix><name>.json`` key stands for."""

from __future__ import annotations


def json_name_under(key: str, prefix: str) -> str | None:
    """``<prefix><name>.json`` -> name; None for any other key, an empty name or one in a sub-folder
    (a listing may hold strays)."""
    if not (key.startswith(prefix) and key.endswith(".json")):
        return None
    name = key[len(prefix) : -len(".json")]
    return name if name and "/" not in name else None
