"""Community reports: the facts a report is written from, the reporter port, the offline reporter.

A report is written from numbered facts (entity descriptions and relation evidence of the
community's members, strongest first, within a character budget); each fact names the message
or artifact it came from, so a finding citing facts cites those sources. The fingerprint of the
facts decides whether a report must be written again: same facts, same report, no model call.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, Field

from coagent_graphrag_ingest.communities import (
    canonical_relations,
    canonical_weight,
    relation_weight,
)
from coagent_graphstore.models import Community, CommunityReport, Entity, Finding, Relation

#: Bump when the prompt or the facts' layout changes: every report is then written again.
REPORT_VERSION = "report-v1"
MAX_FINDINGS = 5

REPORT_PROMPT = """You write a report on one community of a knowledge graph built from a \
chat between students, teachers and AI agents. You get numbered facts; each is a description \
of an entity or a relation between two, as stated in the conversation.
Write a short title naming the community's main topic, a summary of two to four sentences, \
up to five findings (each one sentence with a short explanation), and rate from 0 to 10 how \
important this community is to understanding the conversation.
Every finding must list the numbers of the facts that support it. Use only the facts given."""


@dataclass(frozen=True, slots=True)
class Fact:
    """One numbered statement a report may cite (1-based ``number``)."""

    number: int
    text: str
    source_id: str
    weight: float


@dataclass(frozen=True, slots=True)
class ReportInput:
    """What a reporter sees of one community."""

    community_id: str
    level: int
    entities: tuple[Entity, ...]  # strongest first
    facts: tuple[Fact, ...]

    def prompt(self) -> str:
        names = ", ".join(f"{e.name} ({e.type})" for e in self.entities)
        lines = "\n".join(f"[{f.number}] {f.text}" for f in self.facts)
        return f"Community {self.community_id} (level {self.level}): {names}\n\nFacts:\n{lines}"


class DraftFinding(BaseModel):
    summary: str = Field(min_length=1, max_length=400, description="The finding, one sentence")
    explanation: str = Field(default="", max_length=800)
    facts: list[int] = Field(default_factory=list, description="Numbers of supporting facts")


class ReportDraft(BaseModel):
    """What a reporter returns; citations are fact numbers, turned into source ids here."""

    title: str = Field(min_length=1, max_length=200)
    summary: str = Field(min_length=1, max_length=2000)
    findings: list[DraftFinding] = Field(default_factory=list, max_length=10)
    rating: float = Field(default=5.0, ge=0.0, le=10.0)


class Reporter(Protocol):
    """Writes one community report (a model call, or offline rules)."""

    @property
    def version(self) -> str:
        """Part of the fingerprint: another reporter (or model) means writing reports again."""
        ...

    async def report(self, facts: ReportInput) -> ReportDraft: ...


def report_input(
    community: Community,
    entities: Sequence[Entity],
    relations: Sequence[Relation],
    *,
    max_chars: int,
) -> ReportInput:
    """The community's facts, strongest first, until ``max_chars`` of text are used.

    Every order here is total and every weight canonical, so the facts (and the fingerprint)
    do not depend on the order or float precision in which a store returned the graph.
    """
    members = set(community.members)
    names = {e.key: e.name for e in entities}
    inner = [
        r for r in canonical_relations(relations) if r.source in members and r.target in members
    ]
    weights = {r.ident: relation_weight(r) for r in inner}
    degree = {
        k: canonical_weight(math.fsum(weights[r.ident] for r in inner if k in (r.source, r.target)))
        for k in members
    }
    ranked = sorted(
        (e for e in entities if e.key in members), key=lambda e: (-degree[e.key], e.key)
    )
    candidates: list[tuple[float, str, str]] = []
    for r in sorted(inner, key=lambda r: (-weights[r.ident], r.ident)):
        text = f"{names.get(r.source, r.source)} {r.relation} {names.get(r.target, r.target)}"
        for ev in r.evidence:
            strength = canonical_weight(canonical_weight(ev.weight) + 1.0)
            candidates.append((strength, f"{text}: {ev.text}", ev.source_id))
    for e in ranked:
        for d in e.descriptions:
            if d.text:
                candidates.append((degree[e.key], f"{e.name} ({e.type}): {d.text}", d.source_id))
    facts: list[Fact] = []
    used = 0
    # Ties keep the canonical order built above.
    for weight, text, source in sorted(candidates, key=lambda c: -c[0]):
        if used + len(text) > max_chars and facts:
            break
        facts.append(Fact(len(facts) + 1, text, source, weight))
        used += len(text)
    return ReportInput(community.id, community.level, tuple(ranked), tuple(facts))


def fingerprint(reporter_version: str, facts: ReportInput) -> str:
    """Identity of a report's input: unchanged members and statements give the same value."""
    material = "\x1e".join([
        REPORT_VERSION, reporter_version, str(facts.level),
        ",".join(e.key for e in facts.entities),
        *(f"{f.source_id}\x1f{f.text}" for f in facts.facts),
    ])  # fmt: skip
    return hashlib.sha256(material.encode()).hexdigest()


def finish(
    draft: ReportDraft, facts: ReportInput, fingerprint_: str, artifacts: Collection[str]
) -> CommunityReport:
    """The stored report: fact numbers become message and artifact ids; findings citing no
    valid fact are dropped (a report never states what its facts do not)."""
    by_number = {f.number: f for f in facts.facts}
    findings: list[Finding] = []
    for d in draft.findings[:MAX_FINDINGS]:
        sources = list(dict.fromkeys(by_number[n].source_id for n in d.facts if n in by_number))
        if not sources:
            continue
        findings.append(Finding(
            " ".join(d.summary.split()), " ".join(d.explanation.split()),
            tuple(s for s in sources if s not in artifacts),
            tuple(s for s in sources if s in artifacts),
        ))  # fmt: skip
    return CommunityReport(
        title=" ".join(draft.title.split())[:200],
        summary=draft.summary.strip(),
        findings=tuple(findings),
        rating=round(draft.rating, 2),
        source_ids=tuple(dict.fromkeys(f.source_id for f in facts.facts)),
        fingerprint=fingerprint_,
    )


class OfflineReporter:
    """Deterministic reports from the facts themselves: no key, no network.

    The title names the best-connected members, the summary says who and what the community
    holds, each finding is one of the strongest facts (citing it), and the rating grows with
    the evidence behind the community.
    """

    @property
    def version(self) -> str:
        return "offline-report-1"

    async def report(self, facts: ReportInput) -> ReportDraft:
        top = [e.name for e in facts.entities[:3]]
        title = " and ".join([", ".join(top[:-1]), top[-1]] if len(top) > 1 else top) or "Topic"
        kinds = sorted({e.type.lower() for e in facts.entities})
        summary = (
            f"This community groups {len(facts.entities)} entities ({', '.join(kinds)}) "
            f"around {title}. It rests on {len({f.source_id for f in facts.facts})} "
            "messages or artifacts of the room."
        )
        findings = [
            DraftFinding(summary=_sentence(f.text), explanation="", facts=[f.number])
            for f in facts.facts[:MAX_FINDINGS]
        ]
        rating = min(10.0, 1.0 + len(facts.facts) / 2 + len(facts.entities) / 4)
        return ReportDraft(title=title, summary=summary, findings=findings, rating=rating)


def _sentence(text: str) -> str:
    text = " ".join(text.split())[:400]
    return text if text.endswith((".", "!", "?")) else f"{text}."
