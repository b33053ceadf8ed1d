"""The committed AsyncAPI documents match the code and say who publishes and who consumes."""

from __future__ import annotations

import json

import pytest

from coagent_cli.asyncapi import DOCS_DIR, address, document, generate
from coagent_contracts.chat import MessagePostedV1
from coagent_contracts.workflow import AgentMessageProducedV1


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return generate()


def test_committed_documents_are_up_to_date(generated: dict[str, str]) -> None:
    committed = {p.name: p.read_text() for p in DOCS_DIR.glob("*.asyncapi.json")}
    assert set(committed) == set(generated), "run `coagent docs` and commit docs/events/"
    for name, text in generated.items():
        assert committed[name] == text, f"{name} is stale: run `coagent docs` and commit it"


def test_chat_publishes_its_context_and_consumes_agent_replies(generated: dict[str, str]) -> None:
    chat = json.loads(generated["chat.asyncapi.json"])
    operations = chat["operations"]
    assert operations["publish.chat.message.posted.v1"]["action"] == "send"
    consume = operations["consume.chat-agent-messages.workflow.agent_message.produced.v1"]
    assert consume["action"] == "receive"
    assert consume["x-durable-consumer"] == "chat-agent-messages"
    assert not any(k.startswith("publish.workflow.") for k in operations)


def test_payload_schemas_resolve_inside_the_document() -> None:
    doc = document("chat", [("c", AgentMessageProducedV1)])
    text = json.dumps(doc)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
        node: object = doc
        for key in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict), ref
            assert key in node, f"dangling reference {ref}"
            node = node[key]


def test_wildcards_become_named_parameters() -> None:
    addr, parameters = address(MessagePostedV1)
    assert addr == "chat.room.{room_id}.message.posted.v1"
    assert set(parameters) == {"room_id"}
