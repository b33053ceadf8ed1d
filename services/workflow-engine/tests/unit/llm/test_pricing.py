"""Price lookup, cost math, the usage ledger and the metering wrapper."""

from __future__ import annotations

import asyncio
from typing import Literal

import pytest
from pydantic import BaseModel

from coagent_workflow_engine.llm import (
    ChatMessage,
    ChatRequest,
    MeteredChatModel,
    OfflineChatModel,
    Usage,
    UsageLedger,
    cost_of,
)
from coagent_workflow_engine.llm.pricing import LLMCallRecord, price_for

REQ = ChatRequest(messages=[ChatMessage(role="user", content="hello there")])


@pytest.mark.parametrize(
    ("model", "prefix_price"),
    [
        ("gpt-4o", (2.50, 10.00)),
        ("gpt-4o-mini-2024-07-18", (0.15, 0.60)),
        ("gpt-4o-2024-08-06", (2.50, 10.00)),
        ("models/gemini-2.5-flash", (0.30, 2.50)),
        ("gemini-2.5-flash-lite", (0.10, 0.40)),
        ("GPT-4.1-mini", (0.40, 1.60)),
    ],
)
def test_longest_prefix_price(model: str, prefix_price: tuple[float, float]) -> None:
    price = price_for(model)
    assert price is not None
    assert (price.input_per_m, price.output_per_m) == prefix_price


def test_cost_math() -> None:
    usage = Usage.of(2_000_000, 500_000)
    assert cost_of("gpt-4o-mini", usage) == (pytest.approx(0.30 + 0.30), True)
    assert cost_of("gemini-2.5-pro", Usage.of(1000, 1000)) == (pytest.approx(0.01125), True)


def test_unknown_model_is_free_but_flagged() -> None:
    assert cost_of("llama3.1:8b", Usage.of(1000, 1000)) == (0.0, False)


def test_offline_is_free_and_priced() -> None:
    assert cost_of("gpt-4o", Usage.of(1000, 1000), offline=True) == (0.0, True)


def record(
    run: str | None,
    cost: float,
    *,
    priced: bool = True,
    error: str | None = None,
    tokens: tuple[int, int] = (10, 5),
) -> LLMCallRecord:
    return LLMCallRecord(
        run_id=run,
        tenant_id="t",
        provider="openai",
        model="gpt-4o",
        kind="complete",
        usage=Usage.of(*tokens),
        cost_usd=cost,
        priced=priced,
        offline=False,
        duration_ms=1.0,
        error=error,
    )


def test_ledger_totals_per_run() -> None:
    ledger = UsageLedger()
    ledger.record(record("r1", 0.1))
    ledger.record(record("r1", 0.2, tokens=(100, 50)))
    ledger.record(record("r2", 0.0, priced=False))
    ledger.record(record("r1", 0.0, error="llm_rate_limited", tokens=(0, 0)))
    totals = ledger.run_totals("r1")
    assert totals.calls == 3
    assert totals.failed_calls == 1
    assert totals.cost_usd == pytest.approx(0.3)
    assert totals.usage == Usage.of(110, 55)
    assert not totals.has_unpriced
    assert ledger.run_totals("r2").has_unpriced
    assert ledger.run_totals("nope").calls == 0
    assert len(ledger.records("r1")) == 3
    assert len(ledger.drain()) == 4
    assert ledger.records() == []
    assert ledger.run_totals("r1").calls == 3  # totals survive a drain


async def test_metered_model_records_every_kind_of_call() -> None:
    ledger = UsageLedger()
    llm = MeteredChatModel(OfflineChatModel(), ledger, tenant_id="t1", run_id="run-1")
    completion = await llm.complete(REQ)
    streamed = [d async for d in llm.stream(REQ)]

    class Pick(BaseModel):
        branch: Literal["a", "b"]

    _, usage = await llm.structured(REQ, Pick)
    kinds = [r.kind for r in ledger.records("run-1")]
    assert kinds == ["complete", "stream", "structured"]
    assert all(r.offline and r.cost_usd == 0 and r.tenant_id == "t1" for r in ledger.records())
    final = streamed[-1].completion
    assert final is not None
    expected = completion.usage + final.usage + usage
    assert ledger.run_totals("run-1").usage == expected


async def test_metered_model_records_abandoned_streams_and_cancels() -> None:
    ledger = UsageLedger()
    llm = MeteredChatModel(OfflineChatModel(), ledger, tenant_id="t1", run_id="r")
    stream = llm.stream(REQ)
    await anext(stream)
    await stream.aclose()
    assert [r.error for r in ledger.records()] == ["llm_stream_abandoned"]

    class Hanging(OfflineChatModel):
        async def complete(self, request: ChatRequest):  # type: ignore[no-untyped-def]
            await asyncio.Event().wait()

    task = asyncio.create_task(MeteredChatModel(Hanging(), ledger, tenant_id="t").complete(REQ))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ledger.records()[-1].error == "CancelledError"
