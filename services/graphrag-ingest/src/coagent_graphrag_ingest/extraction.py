"""What extraction produces, the prompt that asks for it, and the delta key (pure rules).

The schema doubles as the structured-output model of the LLM adapter: field descriptions are
part of the prompt. Extractors return names only; which message each fact came from is decided
here from the chunk's turns, identically for every extractor.
"""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel, Field

from coagent_graphrag_ingest.chunking import TextChunk, Turn
from coagent_graphstore.models import entity_key

#: Bump when the prompt or the schema changes: every chunk is then extracted again.
PROMPT_VERSION = "extract-v1"
ENTITY_TYPES = ("PERSON", "AGENT", "CONCEPT", "TECHNOLOGY", "ORGANIZATION", "ARTIFACT", "ISSUE")
RELATION_TYPES = (
    "DISCUSSES",
    "USES",
    "CREATES",
    "RESOLVES",
    "STRUGGLES_WITH",
    "DEPENDS_ON",
    "PART_OF",
    "RELATED_TO",
)
MAX_DESCRIPTION = 400

SYSTEM_PROMPT = f"""You extract a knowledge graph from a chat between students, teachers and AI \
agents. Each line is "Speaker (kind): text".
Entities: people, agents, concepts, technologies, organisations, artifacts and issues that \
matter to the conversation. Types: {", ".join(ENTITY_TYPES)}. Use each name as written in \
the text; name speakers exactly as labelled.
Relations: how two extracted entities relate. Types: {", ".join(RELATION_TYPES)}. Evidence is \
one sentence quoted from the text.
Skip greetings and small talk. Return empty lists when nothing substantive is said."""


class ExtractedEntity(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="The entity's name as written")
    type: str = Field(default="CONCEPT", description=f"One of {', '.join(ENTITY_TYPES)}")
    description: str = Field(default="", description="What the text says about it, one sentence")


class ExtractedRelation(BaseModel):
    source: str = Field(min_length=1, max_length=200, description="Name of the first entity")
    target: str = Field(min_length=1, max_length=200, description="Name of the second entity")
    relation: str = Field(default="RELATED_TO", description=f"One of {', '.join(RELATION_TYPES)}")
    evidence: str = Field(default="", description="The sentence that states the relation")
    strength: float = Field(default=1.0, ge=0.0, le=1.0)


class Extraction(BaseModel):
    """The entities and relations one chunk states."""

    entities: list[ExtractedEntity] = Field(default_factory=list)
    relations: list[ExtractedRelation] = Field(default_factory=list)


def extraction_key(extractor_version: str, chunk: TextChunk) -> str:
    """Identity of one extraction: same prompt, extractor, sources and text = same result.

    Source ids are part of it: the same words reposted as a new message are a new source and
    must be extracted (and attributed) again.
    """
    material = "\x1e".join(
        [PROMPT_VERSION, extractor_version, ",".join(chunk.source_ids), chunk.text]
    )
    return hashlib.sha256(material.encode()).hexdigest()


def normal_type(value: str) -> str:
    """Types are upper-case words; unknown ones are kept (the ontology is open) but tidied."""
    cleaned = re.sub(r"[^A-Za-z0-9]+", "_", value.strip()).strip("_").upper()
    return cleaned or "CONCEPT"


def mentions(turn: Turn, name: str) -> bool:
    """Whether ``turn`` is by or mentions ``name`` (whole words, case ignored)."""
    return same_name(turn.speaker, name) or names(turn.text, name)


def same_name(a: str, b: str) -> bool:
    return bool(a.strip()) and bool(b.strip()) and entity_key(a) == entity_key(b)


def names(text: str, name: str) -> bool:
    """Whether ``text`` contains ``name`` as whole words (case and spacing ignored)."""
    pattern = r"(?<!\w)" + re.escape(" ".join(name.split())) + r"(?!\w)"
    return re.search(pattern, " ".join(text.split()), re.IGNORECASE) is not None


def turns_for_entity(chunk: TextChunk, name: str) -> list[Turn]:
    """The turns an entity's facts are attributed to: those naming it, else the whole chunk."""
    found = [t for t in chunk.turns if mentions(t, name)]
    return found or list(chunk.turns)


def turn_for_relation(chunk: TextChunk, relation: ExtractedRelation) -> Turn:
    """The turn that states a relation: holds its evidence, else names both ends, else one."""
    evidence = " ".join(relation.evidence.split()).casefold()
    if evidence:
        for turn in chunk.turns:
            if evidence in " ".join(turn.text.split()).casefold():
                return turn
    both = [t for t in chunk.turns if mentions(t, relation.source) and mentions(t, relation.target)]
    either = [
        t for t in chunk.turns if mentions(t, relation.source) or mentions(t, relation.target)
    ]
    return (both or either or list(chunk.turns))[0]


def sentence_about(turn: Turn, name: str) -> str:
    """The first sentence of ``turn`` naming ``name`` (the per-source description)."""
    for sentence in re.split(r"(?<=[.!?])\s+", turn.text.strip()):
        if names(sentence, name):
            return sentence[:MAX_DESCRIPTION]
    if same_name(turn.speaker, name):
        return f"{turn.speaker} ({turn.speaker_kind}) took part in the conversation."
    return turn.text.strip()[:MAX_DESCRIPTION]
