"""The ``http`` node and the built-in tools of ``tool`` nodes.

The response (status, kept headers, body) is written to the node's ``output_key``; the step's
input records the method and the URL actually called (never header values, which may hold
credentials). A refused address, a network error, a status outside 2xx (unless allowed) or a
response over the size cap fails the node, and so the run, with the reason in the timeline.
"""

from __future__ import annotations

import asyncio
from typing import Any

from coagent_workflow_engine.graphs.effects import HttpConfig
from coagent_workflow_engine.graphs.model import HttpNode, ToolNode
from coagent_workflow_engine.runtime.context import NodeResult, RunContext
from coagent_workflow_engine.runtime.deps import NodeError
from coagent_workflow_engine.runtime.http_call import HttpCallFailed, HttpRequest, call
from coagent_workflow_engine.runtime.templates import render, render_url, render_value

State = dict[str, Any]


def build_request(cfg: HttpConfig, state: State) -> HttpRequest:
    """The request of ``cfg`` with its templates filled from ``state``."""
    headers = {name: render(value, state) for name, value in cfg.headers.items()}
    if any("\r" in v or "\n" in v for v in headers.values()):
        raise NodeError("a header value filled from state contains a line break")
    body = None if cfg.body is None else render_value(cfg.body, state)
    return HttpRequest(cfg.method, render_url(cfg.url, state), headers, body, cfg.timeout_s)


async def perform(ctx: RunContext, cfg: HttpConfig, state: State) -> tuple[dict[str, Any], str]:
    """``(response as state value, called URL)``; every failure is a :class:`NodeError`."""
    request = build_request(cfg, state)
    try:
        # The whole exchange (DNS, connect, redirects, body) shares the node's timeout.
        async with asyncio.timeout(cfg.timeout_s):
            response = await call(request, ctx.deps.egress)
    except TimeoutError as exc:
        raise NodeError(f"{cfg.method} {request.url} timed out after {cfg.timeout_s:g} s") from exc
    except HttpCallFailed as exc:
        raise NodeError(f"{cfg.method} {request.url}: {exc}") from exc
    if cfg.fail_on_status and not 200 <= response.status < 300:
        raise NodeError(f"{cfg.method} {request.url} answered HTTP {response.status}")
    return response.as_state(), request.url


async def run_http(ctx: RunContext, node: HttpNode, state: State, step: int) -> NodeResult:
    cfg = node.config
    response, url = await perform(ctx, cfg, state)
    update = {cfg.output_key: response} if cfg.output_key else {}
    return NodeResult(update, {"method": cfg.method, "url": url, "status": response["status"]})


async def run_tool(ctx: RunContext, node: ToolNode, state: State, step: int) -> NodeResult:
    cfg = node.config
    if cfg.tool_name == "http_request":
        http = cfg.http_arguments()
        result: Any
        result, url = await perform(ctx, http, state)
        called = {"tool": cfg.tool_name, "method": http.method, "url": url}
    elif cfg.tool_name == "template":
        result = render(str(cfg.arguments["template"]), state)
        called = {"tool": cfg.tool_name}
    else:  # validated on save; a version stored before a tool was removed still fails cleanly
        raise NodeError(f"unknown tool {cfg.tool_name!r}")
    update = {cfg.output_key: result} if cfg.output_key else {}
    return NodeResult(update, called)
