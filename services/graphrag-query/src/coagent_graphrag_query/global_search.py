"""Global search: map-reduce over the room's community reports within a token budget.

Reports of one level (the coarsest with reports unless asked) are ranked by relevance to the
question (their vectors) plus their rating, and taken until the budget is spent. Each batch of
reports is mapped: the composer answers from the batch's findings, and only the claims a finding
supports survive. The reduce step answers again from the findings the maps cited, the best
first, so every sentence of the answer still cites findings, and through them message ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from coagent_graphrag_query.answers import Answer, Claim, Passage, ground
from coagent_graphrag_query.ports import ChatModel
from coagent_graphstore.embedding import FeatureHashingEmbedder
from coagent_graphstore.models import Community, CommunityReport, Scope
from coagent_graphstore.ports import GraphStore, VectorIndex
from coagent_kit.errors import ServiceError

#: Characters per token, the estimate used for budgets (no tokenizer needs downloading).
CHARS_PER_TOKEN = 4
#: How much one rating point (0-10) weighs against cosine relevance when ranking reports.
RATING_WEIGHT = 0.02


class GlobalSearchUnavailable(ServiceError):
    """Global search answers from community reports, and the room has none: a state of the room
    (409, like any request its current state cannot serve), not a server failure."""

    status, code = 409, "communities_not_built"


@dataclass(frozen=True, slots=True)
class GlobalLimits:
    """Caps of one global question, whatever the room's size."""

    #: Tokens of report text handed to the map steps in all.
    budget_tokens: int = 4000
    #: Tokens of report text per map step (one composer call each).
    batch_tokens: int = 1200
    #: Reports considered at most (the most relevant are kept).
    max_reports: int = 200
    #: Findings handed to the reduce step.
    reduce_passages: int = 8


@dataclass(frozen=True, slots=True)
class _Ranked:
    community: Community
    report: CommunityReport
    score: float


def report_tokens(report: CommunityReport) -> int:
    text = (
        report.title + report.summary + "".join(f.summary + f.explanation for f in report.findings)
    )
    return max(1, len(text) // CHARS_PER_TOKEN)


class GlobalSearch:
    def __init__(
        self,
        graph: GraphStore,
        vectors: VectorIndex,
        embedder: FeatureHashingEmbedder,
        model: ChatModel,
        limits: GlobalLimits | None = None,
    ) -> None:
        self._graph, self._vectors, self._embedder = graph, vectors, embedder
        self._model = model
        self.limits = limits or GlobalLimits()

    async def available(self, scope: Scope) -> bool:
        """Whether the room has any community report to answer from."""
        return any(c.report for c in await self._graph.communities(scope))

    async def answer(
        self, scope: Scope, question: str, *, level: int | None = None, thematic: bool = False
    ) -> Answer:
        """Map-reduce over the reports; ``thematic`` questions fall back to the top findings."""
        ranked = await self._rank(scope, question, level)
        batches = self._batches(self._within_budget(ranked))
        mapped: list[Passage] = []
        for batch in batches:
            mapped += await self._map(question, batch, thematic)
        if not mapped:
            return Answer("global", "", (), ())
        return await self._reduce(question, mapped)

    async def _rank(self, scope: Scope, question: str, level: int | None) -> list[_Ranked]:
        communities = [c for c in await self._graph.communities(scope) if c.report]
        if not communities:
            raise GlobalSearchUnavailable(
                "Global search answers from community reports and this room has none yet; "
                "build the graph or ask with mode 'local', 'basic' or 'auto'"
            )
        chosen = level if level is not None else min(c.level for c in communities)
        at_level = [c for c in communities if c.level == chosen]
        query = self._embedder.embed([question])[0]
        hits = await self._vectors.search(
            scope, query, k=self.limits.max_reports, kinds=["community"]
        )
        relevance = {h.id: h.score for h in hits}
        ranked = [
            _Ranked(c, c.report, relevance.get(c.id, 0.0) + RATING_WEIGHT * c.report.rating)
            for c in at_level
            if c.report is not None
        ]
        ranked.sort(key=lambda r: (-r.score, r.community.id))
        return ranked[: self.limits.max_reports]

    def _within_budget(self, ranked: Sequence[_Ranked]) -> list[_Ranked]:
        kept: list[_Ranked] = []
        used = 0
        for r in ranked:
            cost = report_tokens(r.report)
            if kept and used + cost > self.limits.budget_tokens:
                break
            kept.append(r)
            used += cost
        return kept

    def _batches(self, ranked: Sequence[_Ranked]) -> list[list[_Ranked]]:
        batches: list[list[_Ranked]] = []
        used = 0
        for r in ranked:
            cost = report_tokens(r.report)
            if not batches or used + cost > self.limits.batch_tokens:
                batches.append([])
                used = 0
            batches[-1].append(r)
            used += cost
        return batches

    async def _map(self, question: str, batch: Sequence[_Ranked], thematic: bool) -> list[Passage]:
        """The findings of the batch that a grounded partial answer cites, best report first."""
        passages = _findings(batch)
        if not passages:
            return []
        draft = await self._model.answer(question, passages)
        partial = ground("global", draft, passages)
        if partial.cited:
            return list(partial.cited)
        if thematic:
            # A question about the room as a whole is answered by what its communities are
            # about: each report's first finding.
            firsts: dict[str, Passage] = {}
            for p in passages:
                firsts.setdefault(p.chunk_id.split("#", 1)[0], p)
            return list(firsts.values())
        return []

    async def _reduce(self, question: str, mapped: Sequence[Passage]) -> Answer:
        unique = {p.chunk_id: p for p in sorted(mapped, key=lambda p: -p.score)}
        best = list(unique.values())[: self.limits.reduce_passages]
        passages = [_renumbered(p, i) for i, p in enumerate(best, start=1)]
        draft = await self._model.answer(question, passages)
        answer = ground("global", draft, passages)
        if answer.claims:
            return answer
        # The maps' claims are grounded already: state each cited finding, cited.
        claims = tuple(Claim(p.text, (p.number,)) for p in passages)
        text = " ".join(f"{c.text} [{c.passages[0]}]" for c in claims)
        return Answer("global", text, claims, tuple(passages))


def _findings(batch: Sequence[_Ranked]) -> list[Passage]:
    passages: list[Passage] = []
    for r in batch:
        for index, finding in enumerate(r.report.findings):
            if not finding.source_ids:
                continue  # a finding without citations cannot back a claim
            text = " ".join(f"{finding.summary} {finding.explanation}".split())
            passages.append(Passage(
                number=len(passages) + 1, chunk_id=f"{r.community.id}#finding-{index + 1}",
                text=text, score=round(r.score, 6),
                message_ids=finding.message_ids, artifact_ids=finding.artifact_ids,
            ))  # fmt: skip
    return passages


def _renumbered(p: Passage, number: int) -> Passage:
    return Passage(number, p.chunk_id, p.text, p.score, p.message_ids, p.artifact_ids)
