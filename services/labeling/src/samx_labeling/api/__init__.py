"""The HTTP API (FastAPI): one router per resource under ``/api/v1``, health probes and the web UI."""
