"""Serving the merged public OpenAPI document at the app's ``openapi_url`` (and so in ``/docs``).

The gateway's own part comes from FastAPI, the forwarded part from the services' documents (see
:mod:`coagent_gateway.openapi.merge`). The merge is rebuilt only when a service document changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.routing import Route

from coagent_gateway.adapters.services_http import ServiceClient
from coagent_gateway.openapi.catalog import ServiceDocuments
from coagent_gateway.openapi.merge import merge_documents
from coagent_gateway.openapi.routes import GatewayRoute, forwarded_services, gateway_routes

CatalogFactory = Callable[[list[str]], ServiceDocuments]


class PublicDocument:
    """The merged document of ``app``, built on first use (once every route is registered)."""

    def __init__(self, app: FastAPI, catalog: CatalogFactory) -> None:
        self._app = app
        self._catalog_factory = catalog
        self._catalog: ServiceDocuments | None = None
        self._routes: list[GatewayRoute] = []
        self._built: tuple[tuple[int, ...], dict[str, Any]] | None = None

    async def document(self, *, refresh: bool = False) -> dict[str, Any]:
        """The public document; ``refresh`` re-reads every service document first."""
        if self._catalog is None:
            self._routes = gateway_routes(self._app)
            self._catalog = self._catalog_factory(forwarded_services(self._routes))
        documents = await self._catalog.current(refresh=refresh)
        version = self._catalog.version
        if self._built is None or self._built[0] != version:
            merged = merge_documents(self._app.openapi(), self._routes, documents)
            self._built = (version, merged)
        return self._built[1]


def install_public_openapi(
    app: FastAPI, services: ServiceClient, catalog: CatalogFactory | None = None
) -> PublicDocument:
    """Serve the merged document in place of FastAPI's at ``app.openapi_url``.

    The route keeps its position (before any catch-all), so ``/docs`` shows the merged document.
    """
    url = app.openapi_url
    if url is None:
        raise ValueError("The app serves no OpenAPI document to replace")
    public = PublicDocument(app, catalog or (lambda names: ServiceDocuments(services, names)))

    async def openapi(_: Request) -> JSONResponse:
        return JSONResponse(await public.document())

    routes = app.router.routes
    index = next(i for i, r in enumerate(routes) if getattr(r, "path", None) == url)
    routes[index] = Route(url, openapi, methods=["GET"], include_in_schema=False, name="openapi")
    app.state.public_openapi = public
    return public
