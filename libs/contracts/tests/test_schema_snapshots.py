"""Every wire change is visible: each event's JSON Schema must equal its committed snapshot.

Regenerate after an intended change with ``UPDATE_SNAPSHOTS=1 pytest libs/contracts`` and review
the diff: anything but a new optional field needs a new ``V2`` event instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from coagent_contracts import ALL_EVENT_TYPES, Event

SNAPSHOT_DIR = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"


def _snapshot_path(cls: type[Event]) -> Path:
    type_ = cls.model_fields["type"].default
    version = cls.model_fields["version"].default
    return SNAPSHOT_DIR / f"{type_}.v{version}.json"


def _render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_schema_matches_snapshot(event_cls: type[Event]) -> None:
    path = _snapshot_path(event_cls)
    schema = event_cls.model_json_schema()
    if UPDATE:
        SNAPSHOT_DIR.mkdir(exist_ok=True)
        path.write_text(_render(schema), encoding="utf-8")
    assert path.is_file(), f"no snapshot {path.name}; run with UPDATE_SNAPSHOTS=1 and review it"
    committed = json.loads(path.read_text(encoding="utf-8"))
    assert schema == committed, (
        f"{event_cls.__name__} schema changed: a wire change. If intended and compatible, rerun "
        "with UPDATE_SNAPSHOTS=1; otherwise add a V2 event."
    )


def test_snapshot_is_canonically_rendered(event_cls: type[Event]) -> None:
    # Keeps snapshot diffs minimal and reviewable: no hand edits with other formatting.
    path = _snapshot_path(event_cls)
    text = path.read_text(encoding="utf-8")
    assert text == _render(json.loads(text))


def test_snapshot_name_is_the_event_tag(event_cls: type[Event]) -> None:
    assert _snapshot_path(event_cls).name == f"{event_cls.TAG}.json"


def test_every_event_has_a_snapshot_and_none_is_stale() -> None:
    expected = {_snapshot_path(cls).name for cls in ALL_EVENT_TYPES}
    assert len(expected) == len(ALL_EVENT_TYPES), "two event classes share a type and version"
    present = {path.name for path in SNAPSHOT_DIR.iterdir()}
    if UPDATE:
        for name in present - expected:
            (SNAPSHOT_DIR / name).unlink()
        present &= expected
    assert present - expected == set(), "stale snapshots: remove them or restore their events"
    assert expected - present == set(), "missing snapshots: run with UPDATE_SNAPSHOTS=1"


@pytest.mark.parametrize(
    "field", ["event_id", "type", "version", "occurred_at", "producer", "data"]
)
def test_envelope_fields_are_in_every_schema(event_cls: type[Event], field: str) -> None:
    assert field in event_cls.model_json_schema()["properties"]
