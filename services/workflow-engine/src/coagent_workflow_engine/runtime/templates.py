"""``{{key}}`` templates filled from run state.

Templates are written by graph authors and filled with values that may come from users, so they
are plain substitution (no expressions, no attribute access). In URLs the values are
percent-encoded, so a value cannot change the host, path structure or query of the URL.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

State = dict[str, Any]
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def _text(value: Any) -> str:
    if isinstance(value, dict | list):  # JSON, not Python's repr, for objects and lists
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def render(template: str, state: State) -> str:
    """``template`` with every ``{{key}}`` replaced by ``state[key]`` (empty when missing)."""
    return PLACEHOLDER.sub(lambda m: _text(state.get(m.group(1))), template)


def render_url(template: str, state: State) -> str:
    """Like :func:`render`, each value percent-encoded (``/``, ``?``, ``#``, ``@`` too)."""
    return PLACEHOLDER.sub(lambda m: quote(_text(state.get(m.group(1))), safe=""), template)


def render_value(template: Any, state: State) -> Any:
    """A JSON value with templates filled: a string that is exactly ``{{key}}`` becomes the
    state value itself (any JSON type), other strings are rendered, containers recursively."""
    if isinstance(template, str):
        whole = PLACEHOLDER.fullmatch(template.strip())
        return state.get(whole.group(1)) if whole else render(template, state)
    if isinstance(template, list):
        return [render_value(item, state) for item in template]
    if isinstance(template, dict):
        return {key: render_value(item, state) for key, item in template.items()}
    return template
