"""Conversation-aware chunking: pure rules, no I/O.

A room's sources (messages in ``seq`` order, then artifacts) become text units for extraction:

* every message is one turn labelled with its resolved speaker (``Ada (human): …``), so who
  said what survives into the extraction prompt and never degrades to an id or "System";
* turns are packed whole into a chunk until ``max_chars``; a turn never straddles two chunks
  unless it alone is longer than ``max_chars``, in which case it is split at sentence ends
  (then at spaces) and each part is a chunk of its own naming the same message id;
* artifacts are never mixed with messages: each artifact revision is its own chunk(s);
* packing is greedy from the room's first message, so appending a message only changes the
  last chunk (or opens a new one) and every earlier chunk keeps its text, id and content hash.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

SpeakerKind = Literal["human", "agent", "system", "artifact"]
#: A chunk of ~2,000 characters is ~500 tokens, well within any extraction model's context.
DEFAULT_MAX_CHARS = 2000
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A message or artifact revision as ingest keeps it (the text it reads)."""

    source_kind: Literal["message", "artifact"]
    source_id: str
    speaker: str
    speaker_kind: SpeakerKind
    content: str
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Turn:
    """One speaker's contribution inside a chunk."""

    source_id: str
    speaker: str
    speaker_kind: SpeakerKind
    text: str

    @property
    def line(self) -> str:
        return f"{self.speaker} ({self.speaker_kind}): {self.text}"


@dataclass(frozen=True, slots=True)
class TextChunk:
    """A unit of extraction; ``id`` is stable while its first source and part stay the same."""

    id: str
    turns: tuple[Turn, ...]
    message_ids: tuple[str, ...]
    artifact_ids: tuple[str, ...]
    position: int

    @property
    def text(self) -> str:
        return "\n".join(t.line for t in self.turns)

    @property
    def source_ids(self) -> tuple[str, ...]:
        return self.message_ids + self.artifact_ids


def speaker_label(
    sender_kind: str, sender_name: str | None, sender_id: str | None, agent_type: str | None
) -> str:
    """A readable name for a message's author, resolved once when the message arrives."""
    if sender_name and sender_name.strip():
        return " ".join(sender_name.split())
    if sender_kind == "agent":
        return f"{agent_type.capitalize()} agent" if agent_type else "Agent"
    if sender_kind == "human":
        return f"User {sender_id[:8]}" if sender_id else "Unknown user"
    return "System"


def chunk_id(first_source_id: str, part: int) -> str:
    digest = hashlib.sha256(f"{first_source_id}\x1f{part}".encode()).hexdigest()
    return f"chunk-{digest[:24]}"


def split_text(text: str, max_chars: int) -> list[str]:
    """``text`` cut into parts of at most ``max_chars``, at sentence ends, else at spaces."""
    if len(text) <= max_chars:
        return [text]
    parts: list[str] = []
    current = ""
    for piece in _pieces(text, max_chars):
        candidate = f"{current} {piece}" if current else piece
        if len(candidate) <= max_chars:
            current = candidate
            continue
        parts.append(current)
        current = piece
    if current:
        parts.append(current)
    return parts


def _pieces(text: str, max_chars: int) -> list[str]:
    """Sentences, with any sentence longer than ``max_chars`` broken at spaces (or hard)."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        while len(sentence) > max_chars:
            cut = sentence.rfind(" ", 0, max_chars + 1)
            cut = cut if cut > 0 else max_chars
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            pieces.append(sentence)
    return pieces


def chunk_sources(
    sources: list[SourceRecord], max_chars: int = DEFAULT_MAX_CHARS
) -> list[TextChunk]:
    """The room's chunks: messages by ``seq`` (packed by turn), then one group per artifact."""
    if max_chars < 80:
        raise ValueError(f"max_chars must be at least 80, got {max_chars}")
    messages = sorted(
        (s for s in sources if s.source_kind == "message"), key=lambda s: (s.seq, s.source_id)
    )
    artifacts = sorted(
        (s for s in sources if s.source_kind == "artifact"), key=lambda s: s.source_id
    )
    groups = _pack_messages(messages, max_chars)
    for artifact in artifacts:
        groups.extend(_split_source(artifact, max_chars))
    return [_chunk(group, position) for position, group in enumerate(groups)]


_Group = tuple[str, list[Turn]]  # (chunk id, turns)


def _pack_messages(messages: list[SourceRecord], max_chars: int) -> list[_Group]:
    groups: list[_Group] = []
    turns: list[Turn] = []
    size = 0
    for message in messages:
        turn = _turn(message, message.content.strip())
        if not turn.text:
            continue
        if len(turn.line) > max_chars:
            if turns:
                groups.append((chunk_id(turns[0].source_id, 0), turns))
                turns, size = [], 0
            groups.extend(_split_source(message, max_chars))
            continue
        if turns and size + 1 + len(turn.line) > max_chars:
            groups.append((chunk_id(turns[0].source_id, 0), turns))
            turns, size = [], 0
        turns.append(turn)
        size += len(turn.line) + (1 if size else 0)
    if turns:
        groups.append((chunk_id(turns[0].source_id, 0), turns))
    return groups


def _split_source(source: SourceRecord, max_chars: int) -> list[_Group]:
    # The label is repeated on every part, so room for it is kept in each.
    label = len(_turn(source, "").line)
    budget = max(max_chars - label, 40)
    parts = split_text(source.content.strip(), budget)
    return [
        (chunk_id(source.source_id, index), [_turn(source, part)])
        for index, part in enumerate(parts)
        if part
    ]


def _turn(source: SourceRecord, text: str) -> Turn:
    return Turn(source.source_id, source.speaker, source.speaker_kind, text)


def _chunk(group: _Group, position: int) -> TextChunk:
    ident, turns = group
    messages = tuple(dict.fromkeys(t.source_id for t in turns if t.speaker_kind != "artifact"))
    artifacts = tuple(dict.fromkeys(t.source_id for t in turns if t.speaker_kind == "artifact"))
    return TextChunk(ident, tuple(turns), messages, artifacts, position)


def artifact_text(title: str, content: object) -> str:
    """The readable text of an artifact revision: its title, then every string it holds."""
    strings: list[str] = []
    _collect_strings(content, strings)
    body = "\n".join(s.strip() for s in strings if s.strip())
    return f"{title.strip()}\n{body}".strip()


def _collect_strings(value: object, into: list[str]) -> None:
    if isinstance(value, str):
        into.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_strings(item, into)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect_strings(item, into)
