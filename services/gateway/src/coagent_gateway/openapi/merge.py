"""One public OpenAPI document: the gateway's own operations plus every forwarded one.

A forwarding route is documented generically by the gateway (its path may even be a catch-all);
the owning service's document says what really lies behind it. For each service whose document
is at hand, the route's generic operations are replaced by the service operations that a request
would reach through the gateway, under the same public path. Services whose document is missing
keep their generic operations, so their families stay listed.

Component names are namespaced by service (``chat.ArtifactRead``) and every ``$ref`` is rewritten
to match, so identically named schemas of different services never collide. Parameters the
gateway does not pass on (cookies, unforwarded headers) are dropped, and security describes how a
caller authenticates to the gateway, never the internal identity the services see.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from coagent_gateway.auth.dependencies import ACCESS_COOKIE
from coagent_gateway.openapi.routes import GatewayRoute, route_for
from coagent_gateway.routing.forward import FORWARD_EXTENSION

Document = dict[str, Any]

#: Service paths that are never public, whatever a routing table might say.
PRIVATE_PREFIXES = ("/internal/", "/healthz", "/readyz", "/metrics")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: Vendor extension naming the service that answers a forwarded operation.
SERVICE_EXTENSION = "x-coagent-service"
REF_PREFIX = "#/components/"

SECURITY_SCHEMES: dict[str, Any] = {
    "accessCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": ACCESS_COOKIE,
        "description": "The session cookie set by signing in (the web client).",
    },
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "An access token from `POST /api/v1/login/access-token`, "
        "or a personal API key (`cak_…`).",
    },
    "apiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "A personal API key (`cak_…`); without the `write` scope it may only read.",
    },
}
#: Any one of the gateway's credentials is enough for an operation that needs a user.
USER_SECURITY: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]


def merge_documents(
    own: Document, routes: Sequence[GatewayRoute], services: Mapping[str, Document | None]
) -> Document:
    """The public document: ``own`` (the gateway's), completed by the ``services`` documents.

    ``routes`` are the gateway's routes in dispatch order; a service whose document is ``None``
    could not be read and keeps the gateway's generic operations.
    """
    merged = copy.deepcopy(own)
    paths: dict[str, Any] = merged.setdefault("paths", {})
    available = {name for name, doc in services.items() if doc is not None}
    _settle_own_operations(paths, routes, available)
    components: dict[str, Any] = merged.setdefault("components", {})
    used_ids = {op.get("operationId") for _, _, op in _operations(paths)}
    for name in sorted(available):
        doc = services[name]
        assert doc is not None
        published = _publish_service(name, doc, routes, used_ids)
        for path, method, operation in published:
            paths.setdefault(path, {}).setdefault(method, operation)
        for kind, entries in _components_of(name, doc, published).items():
            components.setdefault(kind, {}).update(entries)
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    merged["paths"] = {path: item for path, item in paths.items() if item}
    return merged


def _settle_own_operations(
    paths: dict[str, Any], routes: Sequence[GatewayRoute], available: set[str]
) -> None:
    """Drop generic operations a service document replaces; give the rest their security."""
    for path, method, operation in list(_operations(paths)):
        marker = operation.pop(FORWARD_EXTENSION, None)
        service = marker.get("service") if isinstance(marker, dict) else None
        if service in available:
            del paths[path][method]
            continue
        if service is not None:
            operation[SERVICE_EXTENSION] = service
        route = _own_route(routes, method, path)
        if route is not None and route.needs_user:
            operation["security"] = copy.deepcopy(USER_SECURITY)


def _own_route(routes: Sequence[GatewayRoute], method: str, path: str) -> GatewayRoute | None:
    return next((r for r in routes if r.path == path and method.upper() in r.methods), None)


def _publish_service(
    service: str, doc: Document, routes: Sequence[GatewayRoute], used_ids: set[Any]
) -> list[tuple[str, str, dict[str, Any]]]:
    """The operations of ``service`` reachable through the gateway, made public."""
    published: list[tuple[str, str, dict[str, Any]]] = []
    for path, method, operation in _operations(doc.get("paths", {})):
        if path.startswith(PRIVATE_PREFIXES):
            continue
        route = route_for(routes, method, path)
        if route is None or route.forwarding is None or route.forwarding.service != service:
            continue  # answered by the gateway itself, by another service, or not at all
        public = _namespaced(operation, service)
        public["parameters"] = [
            p for p in public.get("parameters", []) if _is_passed_on(p, route.forwarding.headers)
        ]
        if not public["parameters"]:
            del public["parameters"]
        public.pop("security", None)
        if route.needs_user:
            public["security"] = copy.deepcopy(USER_SECURITY)
        public[SERVICE_EXTENSION] = service
        public["operationId"] = _unique_id(public.get("operationId"), service, used_ids)
        published.append((path, method, public))
    return published


def _is_passed_on(parameter: Mapping[str, Any], headers: frozenset[str]) -> bool:
    where = parameter.get("in")
    if where == "header":
        return str(parameter.get("name", "")).lower() in headers
    return where in ("path", "query")


def _unique_id(current: Any, service: str, used: set[Any]) -> str:
    base = current if isinstance(current, str) and current else f"{service}_operation"
    candidate, n = (base if base not in used else f"{service}_{base}"), 2
    while candidate in used:
        candidate, n = f"{service}_{base}_{n}", n + 1
    used.add(candidate)
    return candidate


def _components_of(
    service: str, doc: Document, published: Sequence[tuple[str, str, dict[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """The service's components the published operations need (transitively), namespaced."""
    source: Mapping[str, Any] = doc.get("components", {})
    wanted = [ref for _, _, operation in published for ref in _refs(operation)]
    found: dict[str, dict[str, Any]] = {}
    while wanted:
        kind, name = wanted.pop()
        public_name = f"{service}.{name}"
        if public_name in found.get(kind, {}) or name not in source.get(kind, {}):
            continue
        component = _namespaced(source[kind][name], service)
        found.setdefault(kind, {})[public_name] = component
        wanted.extend(_refs(component))
    return found


def _namespaced(node: Any, service: str) -> Any:
    """A copy of ``node`` whose local component references point at ``service``'s names."""
    if isinstance(node, dict):
        copied = {key: _namespaced(value, service) for key, value in node.items()}
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            kind, _, name = ref.removeprefix(REF_PREFIX).partition("/")
            copied["$ref"] = f"{REF_PREFIX}{kind}/{service}.{name}"
        return copied
    if isinstance(node, list):
        return [_namespaced(item, service) for item in node]
    return node


def _refs(node: Any) -> Iterator[tuple[str, str]]:
    """Every ``(kind, name)`` a namespaced node refers to, with the namespace taken off."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            kind, _, name = ref.removeprefix(REF_PREFIX).partition("/")
            yield kind, name.partition(".")[2]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _operations(paths: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method, operation in item.items():
            if method in HTTP_METHODS and isinstance(operation, dict):
                yield path, method, operation
