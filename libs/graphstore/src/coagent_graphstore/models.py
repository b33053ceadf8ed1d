"""The records both stores speak: plain frozen values, every one read and written in a Scope."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from coagent_graphstore.errors import InvalidRecord, InvalidScope

# Ids become part of storage keys (a FalkorDB graph name, a Qdrant payload value), so they are
# restricted to a conservative alphabet instead of being escaped everywhere.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")


def _check_id(kind: str, value: str) -> None:
    if not _ID.fullmatch(value):
        raise InvalidScope(f"{kind} must be 1-128 characters of [A-Za-z0-9_.:-], got {value!r}")


@dataclass(frozen=True, slots=True)
class Scope:
    """The partition every read and write happens in: one room, optionally inside a course.

    ``key`` is the partition value stored with every record; nothing written under one key is
    visible under another, so the same room id under another course is another partition.
    """

    room_id: str
    course_id: str | None = None

    def __post_init__(self) -> None:
        _check_id("room_id", self.room_id)
        if self.course_id is not None:
            _check_id("course_id", self.course_id)

    @property
    def key(self) -> str:
        return self.room_id if self.course_id is None else f"{self.course_id}/{self.room_id}"


def entity_key(name: str) -> str:
    """The identity of an entity name: NFKC, case-folded, inner whitespace collapsed."""
    key = " ".join(unicodedata.normalize("NFKC", name).casefold().split())
    if not key:
        raise InvalidRecord(f"entity name must not be blank, got {name!r}")
    return key


@dataclass(frozen=True, slots=True)
class SourcedText:
    """A statement and the message or artifact id it came from."""

    source_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Summary:
    """The text shown for an entity or relation instead of its per-source fragments.

    ``of`` fingerprints the fragments it was made from (chosen by the writer), so the writer
    can tell whether the fragments changed since and the summary must be made again.
    """

    text: str
    of: str


@dataclass(frozen=True, slots=True)
class EntityUpsert:
    """One source's view of an entity; upserting the same source again replaces its description."""

    name: str
    type: str
    source_id: str
    description: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Entity:
    key: str
    name: str
    type: str
    aliases: tuple[str, ...]
    descriptions: tuple[SourcedText, ...]
    #: Kept through upserts and merges; cleared when forgetting removes one of its fragments.
    summary: Summary | None = None

    @property
    def source_ids(self) -> tuple[str, ...]:
        return tuple(d.source_id for d in self.descriptions)


@dataclass(frozen=True, slots=True)
class RelationUpsert:
    """One source's evidence for ``source -[relation]-> target`` (names or aliases)."""

    source: str
    target: str
    relation: str
    source_id: str
    evidence: str = ""
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Evidence:
    source_id: str
    text: str
    weight: float


@dataclass(frozen=True, slots=True)
class Relation:
    """A directed, typed edge between entity keys; ``weight`` is the sum of its evidence weights."""

    source: str
    target: str
    relation: str
    evidence: tuple[Evidence, ...]
    #: Kept through upserts and merges; cleared when forgetting removes one of its fragments.
    summary: Summary | None = None

    @property
    def weight(self) -> float:
        return sum(e.weight for e in self.evidence)

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.source, self.target, self.relation)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A text unit of the conversation; ``mentions`` name its entities (stored as keys)."""

    id: str
    text: str
    message_ids: tuple[str, ...] = ()
    artifact_ids: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    position: int = 0

    @property
    def source_ids(self) -> tuple[str, ...]:
        return self.message_ids + self.artifact_ids


@dataclass(frozen=True, slots=True)
class Finding:
    """One point of a report and the messages and artifacts that back it (its citations)."""

    summary: str
    explanation: str = ""
    message_ids: tuple[str, ...] = ()
    artifact_ids: tuple[str, ...] = ()

    @property
    def source_ids(self) -> tuple[str, ...]:
        return self.message_ids + self.artifact_ids


@dataclass(frozen=True, slots=True)
class CommunityReport:
    """A community's report; ``source_ids`` are every source its input held (forgetting any
    one drops it), ``fingerprint`` identifies that input so unchanged reports are kept."""

    title: str
    summary: str
    findings: tuple[Finding, ...] = ()
    rating: float = 0.0
    source_ids: tuple[str, ...] = ()
    fingerprint: str = ""


@dataclass(frozen=True, slots=True)
class Community:
    """A cluster at one level of the hierarchy; ``members`` are entity keys.

    Ids are chosen by the caller, which keeps them stable across rebuilds.
    """

    id: str
    level: int
    members: tuple[str, ...]
    parent_id: str | None = None
    report: CommunityReport | None = None


@dataclass(frozen=True, slots=True)
class EntityMerge:
    """Fold entity ``merged`` into ``into`` (both by name or alias), recording why."""

    merged: str
    into: str
    reason: str


@dataclass(frozen=True, slots=True)
class MergeRecord:
    merged_key: str
    merged_name: str
    into_key: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Subgraph:
    entities: tuple[Entity, ...]
    relations: tuple[Relation, ...]


@dataclass(frozen=True, slots=True)
class GraphPage:
    """Entities ``offset..offset+limit`` by key, with every relation whose source is among them."""

    entities: tuple[Entity, ...]
    relations: tuple[Relation, ...]
    total_entities: int
    next_offset: int | None


@dataclass(frozen=True, slots=True)
class GraphStats:
    entities: int
    relations: int
    chunks: int
    communities: int


@dataclass(frozen=True, slots=True)
class ForgetReport:
    """What forgetting some sources changed; changed entities and relations need new summaries."""

    removed_entities: tuple[str, ...] = ()
    changed_entities: tuple[str, ...] = ()
    removed_relations: int = 0
    changed_relations: tuple[tuple[str, str, str], ...] = ()
    removed_chunks: int = 0
    invalidated_communities: tuple[str, ...] = ()


VectorKind = Literal["chunk", "entity", "community"]
VECTOR_KINDS: tuple[VectorKind, ...] = ("chunk", "entity", "community")


@dataclass(frozen=True, slots=True)
class VectorItem:
    """A vector and what it stands for; ``source_ids`` drive forgetting."""

    id: str
    kind: VectorKind
    vector: tuple[float, ...]
    source_ids: tuple[str, ...] = ()
    text: str = ""


@dataclass(frozen=True, slots=True)
class VectorHit:
    """A search result; ``score`` is the cosine similarity (1 = same direction)."""

    id: str
    kind: VectorKind
    score: float
    source_ids: tuple[str, ...] = ()
    text: str = ""
