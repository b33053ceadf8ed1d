"""A room's recent messages, read from chat (the owner of message history) over its internal API.

Services never read each other's tables: chat serves ``GET /internal/rooms/{room_id}/messages``
to holders of an identity token signed for it, the same way the gateway reads history.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
from pydantic import TypeAdapter, ValidationError

from coagent_contracts.chat import MessagePostedData
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_kit.errors import DependencyUnavailable
from coagent_trigger.dry_run_schemas import ReplayedMessage

CHAT_SERVICE = "chat"
#: Chat's largest history page.
MAX_PAGE = 200
_MESSAGES: TypeAdapter[list[ReplayedMessage]] = TypeAdapter(list[ReplayedMessage])


class ChatUnavailable(DependencyUnavailable):
    code = "chat_unavailable"


class ChatHistory:
    """Reads recent room messages from chat as the calling user."""

    def __init__(
        self,
        base_url: str,
        secret: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._secret = secret
        self._http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout_s)

    async def recent(
        self, room_id: str, caller: InternalIdentity, limit: int
    ) -> list[MessagePostedData]:
        """The latest ``limit`` messages of ``room_id``, oldest first (503 if chat fails)."""
        token = sign_identity(self._secret, caller, audience=CHAT_SERVICE)
        try:
            response = await self._http.get(
                f"/internal/rooms/{quote(room_id, safe='')}/messages",
                params={"limit": min(limit, MAX_PAGE)},
                headers={HEADER: token},
            )
            response.raise_for_status()
            messages = _MESSAGES.validate_json(response.content)
        except (httpx.HTTPError, ValidationError) as exc:
            raise ChatUnavailable(f"Could not read the room's messages from chat: {exc}") from exc
        return [m.as_posted() for m in messages]

    async def aclose(self) -> None:
        """Release the connection pool."""
        await self._http.aclose()
