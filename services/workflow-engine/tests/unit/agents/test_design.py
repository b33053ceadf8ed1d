"""``POST /api/v1/agents/generate``: the design agent drafts a system prompt."""

from __future__ import annotations

from collections.abc import Callable

import httpx

Headers = Callable[..., dict[str, str]]
URL = "/api/v1/agents/generate"
BODY = {"requirement": "Quiz students on graphs", "target_agent_type": "teacher"}


async def test_teachers_get_a_prompt_from_the_offline_model_without_a_key(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    first = await client.post(URL, json=BODY, headers=as_user("t1", "teacher"))
    again = await client.post(URL, json=BODY, headers=as_user("t1", "teacher"))

    assert first.status_code == 200, first.text
    result = first.json()
    assert result["generated_prompt"].strip()
    assert (result["provider"], result["offline"]) == ("offline", True)
    assert again.json()["generated_prompt"] == result["generated_prompt"]  # deterministic


async def test_students_may_not_use_the_design_agent(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    refused = await client.post(URL, json=BODY, headers=as_user("s1", "student"))
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")


async def test_generate_is_not_taken_for_a_project_id_and_needs_a_requirement(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    empty = await client.post(
        URL, json={**BODY, "requirement": "  "}, headers=as_user("t1", "teacher")
    )
    assert (empty.status_code, empty.json()["code"]) == (400, "requirement_missing")


async def test_a_custom_prompt_steers_the_draft(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    plain = await client.post(URL, json=BODY, headers=as_user("a1", "admin"))
    custom = await client.post(
        URL,
        json={**BODY, "custom_system_prompt": "Write prompts for pirate tutors."},
        headers=as_user("a1", "admin"),
    )
    assert plain.status_code == custom.status_code == 200
    assert custom.json()["generated_prompt"] != plain.json()["generated_prompt"]


async def test_an_unknown_provider_is_a_clear_400(
    client: httpx.AsyncClient, as_user: Headers
) -> None:
    for provider in ("", "no-such-provider"):
        refused = await client.post(
            URL, json={**BODY, "provider": provider}, headers=as_user("t1", "teacher")
        )
        assert (refused.status_code, refused.json()["code"]) == (400, "unknown_provider")
        assert "unknown LLM provider" in refused.json()["detail"]
