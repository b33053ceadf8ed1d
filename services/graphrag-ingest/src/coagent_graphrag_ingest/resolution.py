"""Entity resolution rules: which entities of a room are the same thing (pure, no I/O).

The store already treats names equal after case and spacing folding as one entity. The rule
steps of the cascade go further, strictly within one type, cheapest and surest first:

1. ``name``: equal after dropping punctuation and a leading article ("the Leiden method");
2. ``alias``: equal (same folding) to one of the other entity's aliases;
3. ``fuzzy``: near-identical spelling (difflib ratio ≥ ``FUZZY_RATIO``, e.g. Postgres vs
   PostgreSQL), or the words of one are the leading words of exactly one other ("Alice" and
   "Alice Chen"; with "Alice Wong" also present, "Alice" stays ambiguous and unmerged).

Each decision carries its step and reason, which go into the store's merge log. The fuzzy
step can be switched off. The later steps (embedding neighbours, then adjudication of the
pairs they propose) need the vector index and a decider; ``cascade.py`` runs them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

FUZZY_RATIO = 0.88
MIN_FUZZY_CHARS = 4
_ARTICLES = ("the ", "a ", "an ")
#: Types a speaker gets from who they are; a later mention typed by a guess never overrides them.
_STICKY_TYPES = frozenset({"PERSON", "AGENT"})
_DEFAULT_TYPE = "CONCEPT"


@dataclass(frozen=True, slots=True)
class Candidate:
    """An entity as resolution sees it; ``weight`` (its source count) picks the survivor."""

    key: str
    name: str
    type: str
    aliases: tuple[str, ...] = ()
    weight: int = 0


@dataclass(frozen=True, slots=True)
class Merge:
    merged: str  # key of the entity folded away
    into: str  # key of the survivor
    reason: str


def normal_form(name: str) -> str:
    """Case-, accent-width- and punctuation-insensitive form, without a leading article."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = " ".join(re.sub(r"[^\w+#]+", " ", text).split())
    for article in _ARTICLES:
        if text.startswith(article) and len(text) > len(article):
            text = text[len(article) :]
    return text


def choose_type(existing: str | None, proposed: str) -> str:
    """The type to store: identity types stick, the default yields to anything specific."""
    if existing is None or existing == proposed:
        return proposed
    if existing in _STICKY_TYPES or proposed == _DEFAULT_TYPE:
        return existing
    return proposed


def match(
    entity: Candidate,
    others: Sequence[Candidate],
    *,
    fuzzy: bool = True,
    ratio: float = FUZZY_RATIO,
) -> tuple[Candidate, str] | None:
    """The first entity of the same type ``entity`` is the same as, with the cascade's reason."""
    peers = [o for o in others if o.type == entity.type and o.key != entity.key]
    form = normal_form(entity.name)
    for other in peers:
        if normal_form(other.name) == form:
            return other, "name"
    for other in peers:
        if form in {normal_form(a) for a in other.aliases}:
            return other, "alias"
    return _fuzzy(form, peers, ratio) if fuzzy else None


def _fuzzy(form: str, peers: Sequence[Candidate], ratio: float) -> tuple[Candidate, str] | None:
    if len(form) < MIN_FUZZY_CHARS:
        return None
    best: tuple[float, Candidate] | None = None
    for other in peers:
        similar = SequenceMatcher(None, form, normal_form(other.name)).ratio()
        if similar >= ratio and (best is None or similar > best[0]):
            best = (similar, other)
    if best is not None:
        return best[1], f"fuzzy:{best[0]:.2f}"
    prefixed = [o for o in peers if _leading_words(form, normal_form(o.name))]
    # Ambiguous only if the candidates are different names (spellings of one name are not).
    if len({normal_form(o.name) for o in prefixed}) == 1:
        return max(prefixed, key=lambda o: (o.weight, o.key)), "fuzzy:leading-words"
    return None


def _leading_words(a: str, b: str) -> bool:
    """One name's words begin the other's ("alice" / "alice chen"), in either direction."""
    short, long = sorted((a.split(), b.split()), key=len)
    return 0 < len(short) < len(long) and long[: len(short)] == short


def plan_merges(
    touched: Sequence[Candidate],
    room: Sequence[Candidate],
    *,
    fuzzy: bool = True,
    ratio: float = FUZZY_RATIO,
) -> list[Merge]:
    """Merges that fold each touched entity into its match among the room's entities.

    Deterministic: touched entities are taken by key; an entity merged away is no longer a
    candidate; the survivor is the one with more sources (then the longer name, then the key).
    """
    alive = {c.key: c for c in room}
    for c in touched:
        alive.setdefault(c.key, c)
    merges: list[Merge] = []
    for entity in sorted(touched, key=lambda c: c.key):
        if entity.key not in alive:
            continue
        found = match(alive[entity.key], list(alive.values()), fuzzy=fuzzy, ratio=ratio)
        if found is None:
            continue
        other, reason = found
        into, merged = survivor(alive[entity.key], other)
        merges.append(Merge(merged.key, into.key, reason))
        del alive[merged.key]
        alive[into.key] = Candidate(
            into.key, into.name, into.type, (*into.aliases, merged.name, *merged.aliases),
            into.weight + merged.weight,
        )  # fmt: skip
    return merges


def survivor(a: Candidate, b: Candidate) -> tuple[Candidate, Candidate]:
    """(kept, folded away): more sources wins, then the longer name, then the smaller key."""
    ranked = sorted((a, b), key=lambda c: (-c.weight, -len(c.name), c.key))
    return ranked[0], ranked[1]
