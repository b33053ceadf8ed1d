"""A generated, seeded multi-room chat corpus with gold facts, for the GraphRAG harness.

Every room talks about the same projects (``Project Atlas``, ``Borealis`` …) with people drawn
from one shared pool, but each room settles *different* facts about them: in one room the Atlas
demo is on Friday in Lab 204, in another on Monday in the Studio. A question asked in a room has
exactly one gold message there; the other rooms hold look-alike statements, so any retrieval
that crossed a room's partition would cite them and show up as leakage.

Per room, messages are a shuffle of:

* gold facts: one message states one attribute of one project (the answer to one question);
* distractors: messages naming the same project and attribute without stating the answer
  ("Has anyone looked at the Borealis database yet?");
* filler: small talk and an agent's generic reminders.

The same seed gives the same corpus, ids included.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

PROJECTS = (
    "Project Atlas", "Borealis", "Cobalt Engine", "Project Delta", "Ember", "Falcon",
    "Granite", "Helios", "Iris Portal", "Juniper",
)  # fmt: skip
PEOPLE = (
    "Alice Chen", "Bob Martin", "Carol Singh", "David Okafor", "Eva Novak", "Farid Haddad",
    "Grace Kim", "Hugo Alvarez", "Ines Duarte", "Jonas Berg", "Keiko Tanaka", "Liam Walsh",
)  # fmt: skip
AGENTS = ("Tutor", "Reviewer")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
PLACES = ("Lab 204", "Room 112", "the Studio", "the Library annex", "Hall B")


@dataclass(frozen=True, slots=True)
class Attribute:
    """One kind of fact a room can settle about a project, with how it is said and asked."""

    name: str
    noun: str  # what distractors talk around ("database", "demo")
    statement: str  # format fields: subject, value
    question: str  # format fields: subject
    values: tuple[str, ...]


ATTRIBUTES = (
    Attribute("database", "database", "For {subject} we settled on {value} as the database.",
              "Which database did we choose for {subject}?",
              ("PostgreSQL", "MySQL", "SQLite", "MongoDB", "Cassandra", "DuckDB")),
    Attribute("demo", "demo", "The {subject} demo is scheduled for {value}.",
              "When is the {subject} demo scheduled?",
              tuple(f"{d} in {p}" for d in DAYS for p in PLACES)),
    Attribute("tests", "test suite", "{value} is responsible for the {subject} test suite.",
              "Who is responsible for the {subject} test suite?", PEOPLE),
    Attribute("deadline", "report", "The {subject} report is due on {value}.",
              "When is the {subject} report due?",
              tuple(f"{m} {d}" for m in ("March", "April", "May", "June") for d in (3, 12, 21))),
    Attribute("crash", "crash", "The {subject} crash was caused by {value}.",
              "What caused the {subject} crash?",
              ("a race condition in the cache", "an expired certificate", "a null pointer in "
               "the parser", "a full disk on the build server", "a stale lock file",
               "an integer overflow in the timer")),
    Attribute("frontend", "frontend", "The {subject} frontend is built with {value}.",
              "Which framework is the {subject} frontend built with?",
              ("React", "Vue", "Angular", "Svelte", "SolidJS")),
    Attribute("budget", "budget", "The {subject} budget was approved at {value}.",
              "What budget was approved for {subject}?",
              tuple(f"{n} thousand euros" for n in (12, 18, 25, 40, 55, 70))),
    Attribute("meeting", "team meeting", "The {subject} team meeting is every {value}.",
              "When is the {subject} team meeting?",
              tuple(f"{d} at {h} o'clock" for d in DAYS for h in (9, 11, 14, 16))),
    Attribute("clustering", "clustering", "{subject} clusters its graph with the {value}.",
              "Which algorithm does {subject} use for clustering?",
              ("Leiden algorithm", "Louvain algorithm", "spectral method", "label propagation",
               "k-means method")),
    Attribute("reviewer", "pull requests", "{value} reviews every {subject} pull request.",
              "Who reviews the {subject} pull requests?", PEOPLE),
)  # fmt: skip

_DISTRACTORS = (
    "Has anyone looked at the {subject} {noun} yet?",
    "I still have questions about the {subject} {noun}.",
    "Let's talk about the {subject} {noun} after lunch.",
    "Can someone send me the notes on the {subject} {noun}?",
    "The {subject} {noun} came up again in the lecture.",
)
_FILLER = (
    "Thanks, that helps a lot.",
    "I'll check and get back to you.",
    "Sounds good to me.",
    "Sorry, I was offline for a bit.",
    "Good morning everyone!",
    "Let me know if you need anything from me.",
    "I pushed my changes a minute ago.",
    "Could we move this to tomorrow?",
)
_AGENT_FILLER = (
    "Remember to cite your sources when you write about {subject}.",
    "A short summary of the {subject} discussion would help the others.",
    "Try to split the {subject} work into smaller tasks.",
)


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message as chat would announce it."""

    message_id: str
    room_id: str
    seq: int
    sender_kind: str  # human | agent
    sender_name: str
    content: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class GoldFact:
    """A question whose answer one message of one room states."""

    room_id: str
    message_id: str
    subject: str
    attribute: str
    value: str
    question: str


@dataclass(frozen=True, slots=True)
class Room:
    room_id: str
    messages: tuple[Message, ...]
    facts: tuple[GoldFact, ...]

    @property
    def message_ids(self) -> frozenset[str]:
        return frozenset(m.message_id for m in self.messages)


@dataclass(frozen=True, slots=True)
class Corpus:
    seed: int
    rooms: tuple[Room, ...]
    owner: dict[str, str] = field(default_factory=dict)  # message id -> room id

    @property
    def messages(self) -> int:
        return sum(len(r.messages) for r in self.rooms)

    @property
    def facts(self) -> tuple[GoldFact, ...]:
        return tuple(f for r in self.rooms for f in r.facts)


def generate(seed: int, rooms: int, messages_per_room: int, facts_per_room: int) -> Corpus:
    """``rooms`` rooms of ``messages_per_room`` messages, ``facts_per_room`` of them gold facts."""
    if rooms < 1 or messages_per_room < 1:
        raise ValueError("need at least one room with at least one message")
    max_facts = len(PROJECTS) * len(ATTRIBUTES)
    if not 0 <= facts_per_room <= min(messages_per_room, max_facts):
        raise ValueError(
            f"facts_per_room must be 0..{min(messages_per_room, max_facts)} "
            f"(messages per room and {max_facts} project attributes), got {facts_per_room}"
        )
    rng = random.Random(seed)
    built = tuple(_room(rng, messages_per_room, facts_per_room) for _ in range(rooms))
    owner = {m.message_id: r.room_id for r in built for m in r.messages}
    return Corpus(seed, built, owner)


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _room(rng: random.Random, size: int, fact_count: int) -> Room:
    room_id = _id(rng)
    people = rng.sample(PEOPLE, 4)
    pairs = rng.sample([(p, a) for p in PROJECTS for a in ATTRIBUTES], fact_count)
    projects = sorted({p for p, _ in pairs}) or list(PROJECTS[:2])
    # (kind, text, fact) drafts: facts first, then distractors about the same projects, filler.
    drafts: list[tuple[str, str, tuple[str, Attribute, str] | None]] = []
    for subject, attribute in pairs:
        value = rng.choice(attribute.values)
        drafts.append(("human", attribute.statement.format(subject=subject, value=value),
                       (subject, attribute, value)))  # fmt: skip
    while len(drafts) < size:
        subject, attribute = rng.choice(pairs) if pairs else (rng.choice(projects), ATTRIBUTES[0])
        roll = rng.random()
        if roll < 0.45:
            text = rng.choice(_DISTRACTORS).format(subject=subject, noun=attribute.noun)
            drafts.append(("human", text, None))
        elif roll < 0.85:
            drafts.append(("human", rng.choice(_FILLER), None))
        else:
            drafts.append(("agent", rng.choice(_AGENT_FILLER).format(subject=subject), None))
    rng.shuffle(drafts)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    messages: list[Message] = []
    facts: list[GoldFact] = []
    for seq, (kind, text, fact) in enumerate(drafts, start=1):
        sender = rng.choice(AGENTS) if kind == "agent" else rng.choice(people)
        message = Message(_id(rng), room_id, seq, kind, sender, text,
                          start + timedelta(minutes=3 * seq))  # fmt: skip
        messages.append(message)
        if fact is not None:
            subject, attribute, value = fact
            question = attribute.question.format(subject=subject)
            facts.append(GoldFact(room_id, message.message_id, subject, attribute.name, value,
                                  question))  # fmt: skip
    return Room(room_id, tuple(messages), tuple(facts))
