"""The gateway's routes in dispatch order, as the merged document needs to know them.

Whether a service operation is reachable through the gateway depends on which gateway route a
request for its path would meet first: a forwarding route for that service publishes it, any
other route (the gateway's own, or one forwarding elsewhere) hides it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from coagent_gateway.auth.dependencies import current_user
from coagent_gateway.routing.forward import FORWARD_EXTENSION, FORWARDED_REQUEST


@dataclass(frozen=True)
class Forwarding:
    """Where a route sends its requests, and which request headers go with them."""

    service: str
    headers: frozenset[str]


@dataclass(frozen=True)
class GatewayRoute:
    """An HTTP route of the gateway: what it matches, where it forwards, if it needs a user."""

    path: str
    pattern: re.Pattern[str]
    methods: frozenset[str]
    forwarding: Forwarding | None
    needs_user: bool

    def handles(self, method: str, path: str) -> bool:
        """Whether a ``method`` request for ``path`` (a path template is fine) matches."""
        return method.upper() in self.methods and self.pattern.match(path) is not None


def gateway_routes(app: FastAPI) -> list[GatewayRoute]:
    """Every HTTP route of ``app`` in the order requests are matched against them."""
    routes: list[GatewayRoute] = []
    for context in iter_route_contexts(app.routes):
        methods = context.methods
        pattern = getattr(context, "path_regex", None)
        if not methods or pattern is None or context.path is None:
            continue  # WebSockets and mounts: no HTTP operation to document
        routes.append(
            GatewayRoute(
                path=context.path_format or context.path,
                pattern=pattern,
                methods=frozenset(m.upper() for m in methods),
                forwarding=_forwarding(getattr(context, "openapi_extra", None)),
                needs_user=_needs_user(getattr(context, "dependant", None)),
            )
        )
    return routes


def route_for(routes: Sequence[GatewayRoute], method: str, path: str) -> GatewayRoute | None:
    """The route that would serve ``method path`` (the first that matches), if any."""
    return next((route for route in routes if route.handles(method, path)), None)


def forwarded_services(routes: Sequence[GatewayRoute]) -> list[str]:
    """The services some route forwards to, each once, in route order."""
    names = (route.forwarding.service for route in routes if route.forwarding is not None)
    return list(dict.fromkeys(names))


def _forwarding(extra: dict[str, Any] | None) -> Forwarding | None:
    marker = (extra or {}).get(FORWARD_EXTENSION)
    if not isinstance(marker, dict) or not isinstance(marker.get("service"), str):
        return None
    extra_headers = [str(h).lower() for h in marker.get("headers", [])]
    return Forwarding(marker["service"], frozenset((*FORWARDED_REQUEST, *extra_headers)))


def _needs_user(dependant: Dependant | None) -> bool:
    return dependant is not None and any(d.call is current_user for d in _walk(dependant))


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _walk(dependency)
