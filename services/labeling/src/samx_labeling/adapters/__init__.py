"""Adapters of the domain's ports over the object store and the event bus."""
