"""The merged public document: forwarded operations in place of the generic ones, namespaced."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from coagent_gateway.app import create_app
from coagent_gateway.openapi.merge import USER_SECURITY, merge_documents
from coagent_gateway.openapi.routes import forwarded_services, gateway_routes
from coagent_gateway.settings import INTERNAL_SERVICES, GatewaySettings

from .openapi_kit import chat_service, engine_service, gateway_app

WORKFLOWS = "/api/v1/workflows"
ARTIFACTS = "/api/v1/workspaces/{room_id}/artifacts"


@pytest.fixture
def gateway(settings: GatewaySettings) -> FastAPI:
    return gateway_app(settings)


def merged(gateway: FastAPI, *, down: tuple[str, ...] = ()) -> dict[str, Any]:
    routes = gateway_routes(gateway)
    apps = {"chat": chat_service(), "workflow-engine": engine_service()}
    documents = {
        name: (apps[name].openapi() if name in apps and name not in down else None)
        for name in forwarded_services(routes)
    }
    return merge_documents(gateway.openapi(), routes, documents)


def refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node))
    return set()


def test_forwarded_operations_carry_the_services_request_and_response_schemas(
    gateway: FastAPI,
) -> None:
    doc = merged(gateway)
    create = doc["paths"][WORKFLOWS]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/workflow-engine.ItemEngine"}
    assert "201" in create["responses"]
    assert create["x-coagent-service"] == "workflow-engine"
    assert set(doc["paths"][WORKFLOWS]) == {"post"}  # the generic GET/PUT/… are gone
    assert "/api/v1/workflows/{rest}" not in doc["paths"]


def test_same_named_schemas_of_two_services_do_not_collide(gateway: FastAPI) -> None:
    doc = merged(gateway)
    schemas = doc["components"]["schemas"]
    assert schemas["chat.Item"]["required"] == ["title"]
    assert schemas["workflow-engine.ItemEngine"]["required"] == ["steps"]
    # Nested references are rewritten, and the schema they name is copied along.
    labels = schemas["chat.Item"]["properties"]["labels"]["items"]
    assert labels == {"$ref": "#/components/schemas/chat.Label"}
    assert "chat.Label" in schemas
    # The gateway's own validation error and each service's are separate components.
    assert {"HTTPValidationError", "chat.HTTPValidationError"} <= set(schemas)


def test_every_reference_resolves_and_operation_ids_are_unique(gateway: FastAPI) -> None:
    doc = merged(gateway)
    names = {f"#/components/schemas/{name}" for name in doc["components"]["schemas"]}
    assert refs(doc["paths"]) <= names
    assert refs(doc["components"]["schemas"]) <= names
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_internal_and_unreachable_service_routes_never_appear(gateway: FastAPI) -> None:
    doc = merged(gateway)
    assert not [path for path in doc["paths"] if path.startswith("/internal")]
    assert "/api/v1/graph-like/{x}" not in doc["paths"]  # no gateway route leads there
    # The gateway answers this path itself (its body is the gateway's, not the caller's).
    generate = doc["paths"]["/api/v1/analytics/{course_id}/generate"]["post"]
    assert "x-coagent-service" not in generate
    assert "requestBody" not in generate
    # A gateway route registered first shadows the service's: only the gateway's is public.
    assert "/api/v1/users/keys" not in doc["paths"]
    assert "/api/v1/users/{user_id}" in doc["paths"]


def test_only_forwarded_parameters_are_documented(gateway: FastAPI) -> None:
    doc = merged(gateway)
    create = doc["paths"][ARTIFACTS]["post"]
    names = {(p["in"], p["name"]) for p in create["parameters"]}
    assert names == {("path", "room_id"), ("header", "idempotency-key")}
    webhook = doc["paths"]["/api/v1/a2a/webhook"]["post"]
    assert {p["name"] for p in webhook["parameters"]} == {"x-agent-id"}


def test_security_describes_the_gateways_credentials(gateway: FastAPI) -> None:
    doc = merged(gateway)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["accessCookie"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "access_token",
        "description": schemes["accessCookie"]["description"],
    }
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["apiKeyHeader"]["name"] == "X-API-Key"
    assert doc["paths"][WORKFLOWS]["post"]["security"] == USER_SECURITY
    assert doc["paths"]["/api/v1/users/{user_id}"]["get"]["security"] == USER_SECURITY
    # External agents have no session: the webhook declares no gateway credential.
    assert "security" not in doc["paths"]["/api/v1/a2a/webhook"]["post"]


def test_a_service_that_is_down_keeps_its_generic_operations(gateway: FastAPI) -> None:
    doc = merged(gateway, down=("chat",))
    generic = doc["paths"][ARTIFACTS]
    assert set(generic) == {"get", "post", "put", "patch", "delete"}
    assert generic["post"]["x-coagent-service"] == "chat"
    assert "x-coagent-forward" not in generic["post"]
    assert generic["post"]["security"] == USER_SECURITY
    assert not [name for name in doc["components"]["schemas"] if name.startswith("chat.")]
    # The other services are unaffected.
    assert "requestBody" in doc["paths"][WORKFLOWS]["post"]


def test_merging_leaves_the_gateways_own_document_untouched(gateway: FastAPI) -> None:
    before = gateway.openapi()
    snapshot = repr(before)
    merged(gateway)
    assert repr(gateway.openapi()) == snapshot


def test_every_forwarding_route_of_the_gateway_is_marked(settings: GatewaySettings) -> None:
    app = create_app(settings)
    marked = {r.forwarding.service for r in gateway_routes(app) if r.forwarding is not None}
    assert marked == set(INTERNAL_SERVICES)
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            says_forwarded = operation.get("summary", "").startswith("Forwarded to")
            assert says_forwarded == ("x-coagent-forward" in operation), (method, path)
