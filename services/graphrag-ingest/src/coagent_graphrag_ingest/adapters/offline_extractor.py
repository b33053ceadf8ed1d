"""The offline Extractor: deterministic rules, no model, so the pipeline runs without a key.

What it finds, per sentence of each turn:

* speakers (PERSON for humans, AGENT for agents) — who said what is always in the graph;
* names: runs of capitalised words ("Leiden Algorithm", "Ada Lovelace"), single capitalised
  words that are not just a sentence opener, and technical tokens (``PostgreSQL``, ``SQL``,
  ``GraphQL``, ``C++``); a small lexicon and cue words (``Dr``, ``University``, ``algorithm``,
  ``bug`` …) choose the type;
* relations: the speaker DISCUSSES each name in their sentence, and names sharing a sentence
  are related by the verb cue found in it (``uses``, ``depends on``, ``fixed`` …), else
  RELATED_TO; the sentence is the evidence.

The same chunk always yields the same result, in the same order.
"""

from __future__ import annotations

import re

from coagent_graphrag_ingest.chunking import TextChunk, Turn
from coagent_graphrag_ingest.extraction import ExtractedEntity, ExtractedRelation, Extraction

VERSION = "offline-2"  # 2: names after a stripped sentence opener are kept

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# A capitalised word, an all-caps acronym or a CamelCase / dotted / plus-suffixed token.
_WORD = r"(?:[A-Z][a-zA-Z0-9]*(?:[.+#][a-zA-Z0-9+#]+)*\+*)"
_NAME = re.compile(rf"{_WORD}(?:\s+(?:of\s+|de\s+|von\s+)?{_WORD})*")
_OPENERS = frozenset(
    [
        "a",
        "an",
        "and",
        "also",
        "any",
        "anyway",
        "as",
        "at",
        "but",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "great",
        "hello",
        "hey",
        "hi",
        "how",
        "however",
        "i",
        "if",
        "in",
        "is",
        "it",
        "let",
        "maybe",
        "my",
        "no",
        "nice",
        "now",
        "ok",
        "okay",
        "oh",
        "on",
        "one",
        "or",
        "our",
        "perhaps",
        "please",
        "right",
        "so",
        "sure",
        "thanks",
        "thank",
        "that",
        "the",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "today",
        "tomorrow",
        "we",
        "well",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "yes",
        "yeah",
        "yesterday",
        "you",
        "your",
        "good",
        "see",
        "just",
        "here",
        "first",
        "next",
        "finally",
        "also",
        "sorry",
        "agreed",
        "exactly",
        "true",
    ]
)
_TECH = frozenset(
    [
        "python",
        "java",
        "javascript",
        "typescript",
        "rust",
        "go",
        "sql",
        "postgresql",
        "postgres",
        "mysql",
        "sqlite",
        "redis",
        "neo4j",
        "falkordb",
        "qdrant",
        "docker",
        "kubernetes",
        "react",
        "vue",
        "angular",
        "fastapi",
        "django",
        "flask",
        "numpy",
        "pandas",
        "pytorch",
        "tensorflow",
        "git",
        "github",
        "linux",
        "html",
        "css",
        "graphql",
        "rest",
        "api",
        "json",
        "yaml",
        "nats",
        "kafka",
        "llm",
        "gpt",
        "openai",
        "igraph",
        "networkx",
        "excel",
    ]
)
_PERSON_CUES = ("Dr", "Prof", "Professor", "Mr", "Mrs", "Ms", "Miss")
_ORG_CUES = ("University", "Institute", "College", "School", "Inc", "Corp", "Lab", "Company")
_CONCEPT_CUES = ("algorithm", "theorem", "method", "model", "principle", "law", "pattern")
_ISSUE_WORDS = ("bug", "error", "issue", "problem", "crash", "failure", "exception")
_RELATION_CUES: tuple[tuple[str, str], ...] = (
    (r"\bdepends? on\b|\brequires?\b", "DEPENDS_ON"),
    (r"\b(?:fix(?:ed|es)?|resolv(?:ed|es)?|solv(?:ed|es)?)\b", "RESOLVES"),
    (r"\b(?:struggl\w*|stuck on|confused by)\b", "STRUGGLES_WITH"),
    (r"\b(?:creat\w*|wrote|writ\w*|buil[dt]\w*|made)\b", "CREATES"),
    (r"\b(?:uses?|using|used)\b", "USES"),
    (r"\b(?:part of|belongs? to|inside)\b", "PART_OF"),
)


class OfflineExtractor:
    """Rule-based entity and relation extraction (the default when no model is configured)."""

    @property
    def version(self) -> str:
        return VERSION

    async def extract(self, chunk: TextChunk) -> Extraction:
        return extract_chunk(chunk)


def extract_chunk(chunk: TextChunk) -> Extraction:
    entities: dict[str, ExtractedEntity] = {}
    relations: dict[tuple[str, str, str], ExtractedRelation] = {}
    for turn in chunk.turns:
        speaker = _speaker_entity(turn)
        if speaker is not None:
            entities.setdefault(speaker.name.casefold(), speaker)
        for sentence in _sentences(turn.text):
            found = [n for n in _names(sentence) if n.casefold() != turn.speaker.casefold()]
            for name in found:
                entities.setdefault(
                    name.casefold(), ExtractedEntity(name=name, type=_type(name, sentence))
                )
            _relate(turn, speaker, found, sentence, relations)
    return Extraction(entities=list(entities.values()), relations=list(relations.values()))


def _speaker_entity(turn: Turn) -> ExtractedEntity | None:
    kinds = {"human": "PERSON", "agent": "AGENT"}
    if turn.speaker_kind not in kinds:
        return None
    return ExtractedEntity(name=turn.speaker, type=kinds[turn.speaker_kind])


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def _names(sentence: str) -> list[str]:
    """Candidate names of one sentence, in order of appearance, each once."""
    found: dict[str, str] = {}
    for match in _NAME.finditer(sentence):
        words = match.group(0).split()
        # A capitalised opener ("Today", "The") is not a name; strip it and judge the rest.
        if match.start() == _first_word_start(sentence) and words[0].casefold() in _OPENERS:
            words = words[1:]
        while words and words[0].casefold() in _OPENERS and not _technical(words[0]):
            words = words[1:]
        if not words:
            continue
        name = " ".join(words)
        # After a stripped opener the word no longer opens the sentence ("The Zephyr demo").
        start = match.start() if len(words) == len(match.group(0).split()) else -1
        if len(words) == 1 and not _worth_single(name, sentence, start):
            continue
        found.setdefault(name.casefold(), name)
    return list(found.values())


def _first_word_start(sentence: str) -> int:
    return len(sentence) - len(sentence.lstrip(" \"'([*-"))


def _worth_single(word: str, sentence: str, start: int) -> bool:
    """A lone capitalised word counts if technical, or if not merely opening the sentence."""
    if _technical(word):
        return True
    if len(word) < 3:
        return False
    return start != _first_word_start(sentence)


def _technical(word: str) -> bool:
    lowered = word.casefold()
    return (
        lowered in _TECH
        or (word.isupper() and len(word) >= 2)
        or bool(re.search(r"[a-z][A-Z]", word))
        or bool(re.search(r"[+#.]", word))
    )


def _type(name: str, sentence: str) -> str:
    words = name.split()
    after = sentence[sentence.find(name) + len(name) :].split()[:1]
    cue = (words[-1].casefold(), after[0].casefold().strip(".,;:!?") if after else "")
    if words[0].rstrip(".") in _PERSON_CUES:
        return "PERSON"
    if any(w in _ORG_CUES for w in words):
        return "ORGANIZATION"
    if any(c in _ISSUE_WORDS for c in cue):
        return "ISSUE"
    if any(c in _CONCEPT_CUES for c in cue):
        return "CONCEPT"
    if any(w.casefold() in _TECH for w in words) or (len(words) == 1 and _technical(name)):
        return "TECHNOLOGY"
    return "CONCEPT"


def _relation_type(sentence: str) -> str:
    for pattern, relation in _RELATION_CUES:
        if re.search(pattern, sentence, re.IGNORECASE):
            return relation
    return "RELATED_TO"


def _relate(
    turn: Turn,
    speaker: ExtractedEntity | None,
    names: list[str],
    sentence: str,
    into: dict[tuple[str, str, str], ExtractedRelation],
) -> None:
    evidence = sentence[:400]
    if speaker is not None:
        for name in names:
            key = (speaker.name.casefold(), name.casefold(), "DISCUSSES")
            into.setdefault(key, ExtractedRelation(source=speaker.name, target=name,
                            relation="DISCUSSES", evidence=evidence, strength=0.5))  # fmt: skip
    relation = _relation_type(sentence)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            key = (first.casefold(), second.casefold(), relation)
            into.setdefault(key, ExtractedRelation(source=first, target=second,
                            relation=relation, evidence=evidence, strength=1.0))  # fmt: skip
