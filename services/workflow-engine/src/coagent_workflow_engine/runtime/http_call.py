"""One outbound HTTP exchange under the egress rules of :mod:`ssrf`.

Every hop (the first request and each redirect) is vetted and connected to by address; the body
is read in chunks and the call fails as soon as it passes the size cap, so a huge or endless
response cannot exhaust memory. No client-wide proxy or environment settings apply
(``trust_env=False``): a proxy would make the vetted address meaningless.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from coagent_workflow_engine.runtime.ssrf import EgressPolicy, EgressRefused, Target, vet

REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Response headers worth keeping in state (the rest are transport details).
KEPT_HEADERS = ("content-type", "location", "etag", "last-modified", "retry-after")


class HttpCallFailed(Exception):
    """The exchange did not complete (refused, unreachable, too large, too many redirects)."""


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: Any = None  # JSON-encoded when not None
    timeout_s: float = 10.0


@dataclass(frozen=True)
class HttpResponse:
    status: int
    url: str
    headers: dict[str, str]
    body: Any  # parsed JSON when the response says so, else text

    def as_state(self) -> dict[str, Any]:
        return {"status": self.status, "url": self.url, "headers": self.headers, "body": self.body}


def _next_hop(request: HttpRequest, response: httpx.Response, url: str) -> HttpRequest:
    location = response.headers.get("location")
    if not location:
        raise HttpCallFailed(f"redirect {response.status_code} without a Location header")
    target = str(httpx.URL(url).join(location))
    # The graph's headers may carry credentials meant for the first origin only.
    same_origin = _origin(target) == _origin(url)
    headers = request.headers if same_origin else {}
    keeps_method = response.status_code in (307, 308) or request.method in ("GET", "HEAD")
    if keeps_method:
        return HttpRequest(request.method, target, headers, request.body, request.timeout_s)
    return HttpRequest("GET", target, headers, None, request.timeout_s)


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port


async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    chunks, size = [], 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > cap:
            raise HttpCallFailed(f"response body exceeds the {cap}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(raw: bytes, content_type: str) -> Any:
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type.lower():
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


async def _send_once(
    client: httpx.AsyncClient, target: Target, request: HttpRequest, policy: EgressPolicy
) -> tuple[httpx.Response, bytes]:
    headers = {"user-agent": policy.user_agent, **request.headers, "host": target.host_header}
    content = None
    if request.body is not None:
        content = json.dumps(request.body).encode()
        headers.setdefault("content-type", "application/json")
    built = client.build_request(
        request.method,
        target.connect_url,
        headers=headers,
        content=content,
        extensions={"sni_hostname": target.host},
    )
    response = await client.send(built, stream=True)
    try:
        if response.status_code in REDIRECTS:
            return response, b""
        return response, await _read_capped(response, policy.max_response_bytes)
    finally:
        await response.aclose()


async def call(request: HttpRequest, policy: EgressPolicy) -> HttpResponse:
    """Perform ``request``, following redirects (each re-vetted) up to the policy's limit.

    The caller bounds the whole exchange in time; cancelling the awaiting task aborts the
    connection at once.
    """
    timeout = httpx.Timeout(request.timeout_s)
    async with httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, trust_env=False
    ) as client:
        for _ in range(policy.max_redirects + 1):
            try:
                target = await vet(request.url, policy)
                response, raw = await _send_once(client, target, request, policy)
            except EgressRefused as exc:
                raise HttpCallFailed(f"refused: {exc}") from exc
            except httpx.HTTPError as exc:
                raise HttpCallFailed(f"{type(exc).__name__}: {exc or 'request failed'}") from exc
            if response.status_code not in REDIRECTS:
                kept = {k: response.headers[k] for k in KEPT_HEADERS if k in response.headers}
                body = _decode(raw, response.headers.get("content-type", ""))
                return HttpResponse(response.status_code, request.url, kept, body)
            request = _next_hop(request, response, request.url)
    raise HttpCallFailed(f"more than {policy.max_redirects} redirects")
