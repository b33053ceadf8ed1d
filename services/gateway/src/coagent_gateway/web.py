"""Serving a built single-page web client from ``GATEWAY_WEB_DIR`` on the API's own origin.

Paths that name a file are served from the directory; every other non-API path gets
``index.html`` so deep links work with history-mode routing. Hashed build assets are cached for a
year, ``index.html`` never, and every page carries a strict Content-Security-Policy.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from coagent_kit.errors import NotFound

#: The reference client fetches its login-page scene from spline.design; nothing else external.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob: https:; font-src 'self' data:; "
    "connect-src 'self' ws: wss: https://*.spline.design; "
    "frame-ancestors 'none'; base-uri 'self'; object-src 'none'; form-action 'self'"
)
IMMUTABLE = "public, max-age=31536000, immutable"
#: Paths owned by the API: never answered with the web client.
RESERVED = ("api/", "static/", "docs", "redoc", "healthz", "readyz", "metrics", "openapi.json")


def web_router(web_dir: Path) -> APIRouter:
    """A catch-all GET route serving ``web_dir`` with history fallback."""
    root = web_dir.resolve()
    index = root / "index.html"
    if not index.is_file():
        raise FileNotFoundError(f"GATEWAY_WEB_DIR has no index.html: {root}")
    router = APIRouter(include_in_schema=False)

    @router.get("/{path:path}")
    async def serve(path: str, request: Request) -> Response:
        if path.startswith(RESERVED):
            raise NotFound("Not Found", code="not_found")
        target = _file_in(root, path)
        if target is None:
            return _page(index)
        return _asset(target)

    return router


def _file_in(root: Path, path: str) -> Path | None:
    """The file ``path`` names inside ``root``; None for directories, misses and escapes."""
    if not path:
        return None
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def _page(index: Path) -> Response:
    return FileResponse(
        index,
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-cache", "Content-Security-Policy": CSP, **_hardening()},
    )


def _asset(target: Path) -> Response:
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    hashed = "assets" in target.parts
    headers = {"Cache-Control": IMMUTABLE if hashed else "no-cache", **_hardening()}
    if target.suffix == ".html":
        headers["Content-Security-Policy"] = CSP
    return FileResponse(target, media_type=media_type, headers=headers)


def _hardening() -> dict[str, str]:
    return {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
