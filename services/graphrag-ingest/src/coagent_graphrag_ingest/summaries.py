"""Summaries of entities and relations, redone only when their per-source fragments change.

The store keeps what each message or artifact said about an entity (descriptions) or a
relation (evidence); these are the fragments, each citing its source. The summary shown next to
them is made from the distinct fragment texts and stored with their fingerprint. After a pass
(or a forgetting) the touched entities and their relations are compared with their stored
fingerprint: equal means nothing to do, so re-ingesting an unchanged room costs no call. One
distinct text is its own summary (no call); two or more go to the summariser, in batches.
Forgetting a source clears the summaries built on it in the store, so forgotten words never
linger even if summarising again fails.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from coagent_graphrag_ingest.adjudication import batches
from coagent_graphstore.models import Entity, Relation, Scope, Summary
from coagent_graphstore.ports import GraphStore
from coagent_kit.logging import get_logger

log = get_logger(__name__)
#: Bump when the summary prompt or the offline rules change: every summary is then redone.
SUMMARY_VERSION = "summary-v1"
MAX_SUMMARY_CHARS = 600
_SENTENCE = re.compile(r"(?<=[.!?;])\s+")

SUMMARY_PROMPT = """You merge what a chat room said about an entity or a relation into one \
short, neutral description (at most three sentences). Use only the given statements; keep \
names as written; do not add facts. Answer every item by its number."""

Ident = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class SummaryRequest:
    """Summarise ``fragments`` about ``subject``; ``id`` names the entity or relation."""

    id: str
    subject: str
    fragments: tuple[str, ...]


class Summariser(Protocol):
    """Summarises a batch of items at once (one model call for a model)."""

    async def summarise(self, requests: Sequence[SummaryRequest]) -> list[str | None]:
        """One summary per request, in order; None leaves that item for a later pass."""
        ...


def distinct_texts(texts: Sequence[str]) -> tuple[str, ...]:
    """The non-blank texts, each once, in first-seen order."""
    return tuple(dict.fromkeys(" ".join(t.split()) for t in texts if t.strip()))


def summary_prompt(requests: Sequence[SummaryRequest]) -> str:
    """The user message listing the numbered items a model must summarise."""
    parts = []
    for number, request in enumerate(requests):
        said = "\n".join(f"   - {t}" for t in distinct_texts(request.fragments))
        parts.append(f"{number}. {request.subject}\n{said}")
    return "Summarise each item:\n\n" + "\n".join(parts)


def fingerprint(texts: Sequence[str]) -> str:
    """Identity of a set of fragment texts (order and repeats ignored)."""
    material = "\x1e".join([SUMMARY_VERSION, *sorted(distinct_texts(texts))])
    return hashlib.sha256(material.encode()).hexdigest()[:24]


def offline_summary(fragments: Sequence[str], max_chars: int = MAX_SUMMARY_CHARS) -> str:
    """Distinct sentences of the fragments in order, cut at a sentence end within the limit."""
    sentences: dict[str, None] = {}
    for fragment in distinct_texts(fragments):
        for sentence in _SENTENCE.split(fragment):
            if sentence.strip():
                sentences.setdefault(sentence.strip(), None)
    kept: list[str] = []
    for sentence in sentences:
        if len(" ".join([*kept, sentence])) > max_chars:
            break
        kept.append(sentence)
    return " ".join(kept) or next(iter(sentences), "")[:max_chars]


class OfflineSummariser:
    """The keyless ``Summariser``; counts its batches like a model would count calls."""

    def __init__(self, max_chars: int = MAX_SUMMARY_CHARS) -> None:
        self._max_chars = max_chars
        self.calls = 0

    async def summarise(self, requests: Sequence[SummaryRequest]) -> list[str | None]:
        self.calls += 1
        return [offline_summary(r.fragments, self._max_chars) for r in requests]


@dataclass(frozen=True, slots=True)
class _Item:
    request: SummaryRequest
    entity: str | None = None
    relation: Ident | None = None


class DescriptionSummaries:
    """Brings the summaries of some entities and their relations up to date."""

    def __init__(self, graph: GraphStore, summariser: Summariser, *, batch: int = 10) -> None:
        if batch < 1:
            raise ValueError(f"summary batch must be positive, got {batch}")
        self._graph = graph
        self._summariser = summariser
        self._batch = batch

    async def refresh(self, scope: Scope, keys: Sequence[str]) -> int:
        """Redo the stale summaries of these entities and their relations; items summarised."""
        if not keys:
            return 0
        entities = await self._graph.entities(scope, keys)
        relations = await self._graph.relations(scope, [e.key for e in entities])
        items = [_entity_item(e) for e in entities] + [_relation_item(r) for r in relations]
        stale = [
            (item, current)
            for item, current in items
            if current is None or current.of != fingerprint(item.request.fragments)
        ]
        if not stale:
            return 0
        return await self._write(scope, [item for item, _ in stale])

    async def _write(self, scope: Scope, items: Sequence[_Item]) -> int:
        texts = {id(i): _trivial(i.request.fragments) for i in items}
        asked = [i for i in items if texts[id(i)] is None]
        for batch in batches(asked, self._batch):
            try:
                made = await self._summariser.summarise([i.request for i in batch])
            except Exception as exc:  # the fragments still show; the next pass tries again
                log.warning("summarising_failed", room_id=scope.room_id, error=str(exc))
                continue
            texts.update({id(i): text for i, text in zip(batch, made, strict=False)})
        entities: dict[str, Summary] = {}
        relations: dict[Ident, Summary] = {}
        for item in items:
            text = texts.get(id(item))
            if text is None:
                continue
            summary = Summary(text.strip(), fingerprint(item.request.fragments))
            if item.entity is not None:
                entities[item.entity] = summary
            elif item.relation is not None:
                relations[item.relation] = summary
        await self._graph.set_summaries(scope, entities, relations)
        return len(asked)


def _trivial(fragments: Sequence[str]) -> str | None:
    """The summary needing no summariser: nothing, or the only distinct text."""
    texts = distinct_texts(fragments)
    return texts[0] if len(texts) == 1 else ("" if not texts else None)


def _entity_item(entity: Entity) -> tuple[_Item, Summary | None]:
    texts = tuple(d.text for d in entity.descriptions)
    request = SummaryRequest(entity.key, f"{entity.name} ({entity.type})", texts)
    return _Item(request, entity=entity.key), entity.summary


def _relation_item(relation: Relation) -> tuple[_Item, Summary | None]:
    texts = tuple(e.text for e in relation.evidence)
    subject = f"{relation.source} -[{relation.relation}]-> {relation.target}"
    request = SummaryRequest("|".join(relation.ident), subject, texts)
    return _Item(request, relation=relation.ident), relation.summary
