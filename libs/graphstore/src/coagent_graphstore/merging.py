"""Pure rules for per-source records: how upserts, merges and forgetting change them.

Every adapter applies the same rules, so the stores differ only in how records are kept.
"""

from __future__ import annotations

from collections.abc import Iterable

from coagent_graphstore.models import (
    Entity,
    EntityUpsert,
    Evidence,
    Relation,
    RelationUpsert,
    SourcedText,
    Summary,
    entity_key,
)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def upsert_entity(existing: Entity | None, change: EntityUpsert) -> Entity:
    """The entity after ``change``: that source's description replaced, aliases added."""
    key = entity_key(change.name)
    kept = () if existing is None else existing.descriptions
    described = tuple(d for d in kept if d.source_id != change.source_id)
    descriptions = (*described, SourcedText(change.source_id, change.description))
    old_aliases = () if existing is None else existing.aliases
    # The first spelling stays the display name; every other spelling seen becomes an alias.
    name = change.name if existing is None else existing.name
    return Entity(
        key=key if existing is None else existing.key,
        name=name,
        type=change.type,
        aliases=_unique(a for a in (*old_aliases, change.name, *change.aliases) if a != name),
        descriptions=descriptions,
        # The writer compares the summary's fingerprint with the fragments to redo it.
        summary=None if existing is None else existing.summary,
    )


def alias_keys(entity: Entity) -> tuple[str, ...]:
    """The lookup keys of an entity's aliases (its own key excluded)."""
    return _unique(k for k in (entity_key(a) for a in entity.aliases) if k != entity.key)


def upsert_relation(
    existing: Relation | None, source: str, target: str, change: RelationUpsert
) -> Relation:
    """The relation after ``change``: that source's evidence replaced."""
    kept = () if existing is None else existing.evidence
    evidence = tuple(e for e in kept if e.source_id != change.source_id)
    added = Evidence(change.source_id, change.evidence, change.weight)
    summary = None if existing is None else existing.summary
    return Relation(source, target, change.relation, (*evidence, added), summary)


def without_sources(entity: Entity, sources: frozenset[str]) -> Entity:
    """``entity`` without those sources' descriptions.

    Its summary goes with them: it may repeat what a forgotten source said.
    """
    kept = tuple(d for d in entity.descriptions if d.source_id not in sources)
    summary = entity.summary if kept == entity.descriptions else None
    return Entity(entity.key, entity.name, entity.type, entity.aliases, kept, summary)


def relation_without_sources(relation: Relation, sources: frozenset[str]) -> Relation:
    """``relation`` without those sources' evidence (and its summary, like entities)."""
    kept = tuple(e for e in relation.evidence if e.source_id not in sources)
    summary = relation.summary if kept == relation.evidence else None
    return Relation(relation.source, relation.target, relation.relation, kept, summary)


def summarised(entity: Entity, summary: Summary) -> Entity:
    return Entity(
        entity.key, entity.name, entity.type, entity.aliases, entity.descriptions, summary
    )


def relation_summarised(relation: Relation, summary: Summary) -> Relation:
    return Relation(relation.source, relation.target, relation.relation, relation.evidence, summary)


def fold_entity(into: Entity, merged: Entity) -> Entity:
    """``into`` enriched with what ``merged`` knew; same-source descriptions are joined."""
    texts = {d.source_id: d.text for d in into.descriptions}
    for d in merged.descriptions:
        texts[d.source_id] = "; ".join(_unique((texts.get(d.source_id, ""), d.text)))
    aliases = _unique((*into.aliases, merged.name, *merged.aliases))
    return Entity(
        key=into.key,
        name=into.name,
        type=into.type,
        aliases=tuple(a for a in aliases if a != into.name),
        descriptions=tuple(SourcedText(s, t) for s, t in texts.items()),
        summary=into.summary,
    )


def fold_relation(existing: Relation | None, moved: Relation) -> Relation:
    """``moved`` added to ``existing`` (same ident); per source the stronger evidence wins."""
    if existing is None:
        return moved
    by_source = {e.source_id: e for e in existing.evidence}
    for e in moved.evidence:
        current = by_source.get(e.source_id)
        if current is None or e.weight > current.weight:
            by_source[e.source_id] = e
    evidence = tuple(by_source.values())
    return Relation(existing.source, existing.target, existing.relation, evidence, existing.summary)


def repoint(relation: Relation, old: str, new: str) -> Relation:
    source = new if relation.source == old else relation.source
    target = new if relation.target == old else relation.target
    return Relation(source, target, relation.relation, relation.evidence, relation.summary)


def strongest_first(relations: Iterable[Relation]) -> list[Relation]:
    """Deterministic order for caps: weight descending, then ident."""
    return sorted(relations, key=lambda r: (-r.weight, r.ident))
