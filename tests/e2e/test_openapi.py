"""On the real fleet, the gateway's OpenAPI document is the whole public API in one piece.

The operations of the services behind the gateway appear under their public paths with the
request and response schemas the services declare (namespaced by service), internal routes never
appear, and every reference resolves inside the document.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from coagent_cli.fleet import Fleet

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SCHEMAS = "#/components/schemas/"


def public_document(fleet: Fleet) -> dict[str, Any]:
    response = httpx.get(f"{fleet.gateway_url}/api/v1/openapi.json", timeout=30)
    assert response.status_code == 200, response.text
    doc = response.json()
    assert isinstance(doc, dict)
    return doc


def request_schema(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """The component named by an operation's JSON request body."""
    operation = doc["paths"][path][method]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.startswith(SCHEMAS), ref
    schema = doc["components"]["schemas"][ref.removeprefix(SCHEMAS)]
    assert isinstance(schema, dict)
    return schema


def refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        own = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return own.union(*(refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(item) for item in node))
    return set()


def test_workflow_and_trigger_creation_are_documented_with_their_schemas(fleet: Fleet) -> None:
    doc = public_document(fleet)
    workflow = request_schema(doc, "/api/v1/workflows", "post")
    assert {"name", "graph_data"} <= set(workflow["properties"])
    assert doc["paths"]["/api/v1/workflows"]["post"]["x-coagent-service"] == "workflow-engine"
    trigger = request_schema(doc, "/api/v1/triggers", "post")
    assert "name" in trigger["properties"]
    assert doc["paths"]["/api/v1/triggers"]["post"]["x-coagent-service"] == "trigger"
    # Chat's artifacts too, under the room-scoped public path.
    assert "requestBody" in doc["paths"]["/api/v1/workspaces/{room_id}/artifacts"]["post"]
    # The generic catch-alls gave way to the real operations.
    assert "/api/v1/workflows/{rest}" not in doc["paths"]
    assert "/api/v1/workflows/{workflow_id}/runs/{run_id}/cancel" in doc["paths"]


def test_the_document_is_whole_and_shows_no_internal_route(fleet: Fleet) -> None:
    doc = public_document(fleet)
    assert not [path for path in doc["paths"] if "/internal/" in path]
    names = {f"{SCHEMAS}{name}" for name in doc["components"]["schemas"]}
    assert refs(doc) <= names
    assert {"accessCookie", "bearerAuth", "apiKeyHeader"} == set(
        doc["components"]["securitySchemes"]
    )
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    # Still the gateway's own operations as well.
    assert "post" in doc["paths"]["/api/v1/login/access-token"]
