"""Save-time checks of an HTTP request template (the run-time address rules are in ``runtime``)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

#: Headers the engine sets itself; a graph may not override them.
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer"}
)
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
_PLACEHOLDER = re.compile(r"\{\{[^}]*\}\}")


def check_request(url: str, headers: dict[str, str]) -> None:
    """``ValueError`` for a URL without a usable host or a header that cannot be sent."""
    static = _PLACEHOLDER.sub("x", url)
    try:
        parts = urlsplit(static)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"invalid url: {exc}") from None
    if not parts.hostname:
        raise ValueError("the url has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in the url are not allowed; use a header")
    for name, value in headers.items():
        if not _TOKEN.match(name):
            raise ValueError(f"invalid header name {name!r}")
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"header {name!r} is set by the engine and cannot be overridden")
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} contains a line break")
