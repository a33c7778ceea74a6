"""The labeling UI: ``GET /`` is ``web/index.html``, ``/static/*`` the ``web/`` folder (when present)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from samx_labeling.api.deps import ContextDep

router = APIRouter(include_in_schema=False)


@router.get("/")
def index(context: ContextDep) -> FileResponse:
    page = context.web_dir / "index.html"
    if not page.is_file():
        raise HTTPException(404, "the web UI is not installed")
    return FileResponse(page, media_type="text/html")


@router.get("/static/{path:path}")
def static(path: str, context: ContextDep) -> FileResponse:
    root = context.web_dir.resolve()
    target = (root / path).resolve()
    # resolve() folds '..' and symlinks: anything outside the UI folder is not ours to serve.
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(404, "not found")
    return FileResponse(target)
