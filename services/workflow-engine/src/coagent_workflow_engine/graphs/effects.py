"""Configs of the nodes acting outside the run: http, tool, action and subworkflow."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, JsonValue, ValidationError, model_validator

from coagent_workflow_engine.graphs.base import NodeConfig, Ref, StateKey, Strict, Text
from coagent_workflow_engine.graphs.requests import check_request


class HttpConfig(NodeConfig):
    """An outbound HTTP call; its response (status, headers, body) is written to ``output_key``.

    ``url`` and header values are templates: ``{{key}}`` is replaced by the state value (URL-
    encoded in the URL). In ``body`` a string that is exactly ``{{key}}`` becomes the state value
    itself (any JSON type); other strings are templates. The address rules (public addresses
    only, see ``runtime.ssrf``) apply at run time to every redirect hop. A non-2xx status fails
    the node unless ``fail_on_status`` is false.
    """

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: Annotated[str, Field(max_length=2048, pattern=r"^https?://[^\s]+$")]
    headers: dict[str, Annotated[str, Field(max_length=4096)]] = Field(
        default_factory=dict, max_length=32
    )
    body: JsonValue = None
    timeout_s: float = Field(default=10.0, gt=0, le=60)
    output_key: StateKey | None = None
    fail_on_status: bool = True

    @model_validator(mode="after")
    def _request_is_sound(self) -> HttpConfig:
        check_request(self.url, self.headers)
        if self.body is not None and self.method in ("GET", "DELETE"):
            raise ValueError(f"a {self.method} request cannot have a body")
        return self


class ToolConfig(NodeConfig):
    """Runs a built-in tool by name (``BUILTIN_TOOLS``); ``arguments`` are checked on save.

    * ``http_request``: the arguments of an ``http`` node (``method``, ``url``, ``headers``,
      ``body``, ``timeout_s``, ``fail_on_status``), same address rules;
    * ``template``: ``{"template": "…{{key}}…"}`` renders text from state (no network).

    The result goes to ``output_key``.
    """

    tool_name: Ref
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    output_key: StateKey | None = None

    @model_validator(mode="after")
    def _known_tool(self) -> ToolConfig:
        if self.tool_name not in BUILTIN_TOOLS:
            raise ValueError(
                f"unknown tool {self.tool_name!r}; built-in tools: {sorted(BUILTIN_TOOLS)}"
            )
        try:
            BUILTIN_TOOLS[self.tool_name].model_validate(self.arguments)
        except ValidationError as exc:
            raise ValueError(f"invalid arguments: {_first_error(exc)}") from None
        return self

    def http_arguments(self) -> HttpConfig:
        """The arguments of an ``http_request`` tool as an http node config."""
        return HttpConfig.model_validate(self.arguments)


class TemplateArguments(Strict):
    template: Text


#: Built-in tools and the model their ``arguments`` must satisfy.
BUILTIN_TOOLS: dict[str, type[BaseModel]] = {
    "http_request": HttpConfig,
    "template": TemplateArguments,
}


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "arguments"
    return f"{where}: {error['msg']}"


ArtifactKind = Literal["task", "doc", "process"]


class ActionConfig(NodeConfig):
    """A side effect in the room: post a message, or write an artifact.

    ``post_to_room`` posts ``text`` (a template) or the value of ``from_key``.
    ``update_artifact`` writes the value of ``from_key`` (or the rendered ``text``) to an
    artifact of the room: ``artifact_id`` names an existing one; without it the node creates an
    artifact of ``artifact_type`` titled ``title`` (a template) the first time it runs in a run,
    and updates that same artifact when the run comes back to the node. ``mode`` ``append``
    adds to a document instead of replacing it. A text value becomes a document paragraph (or a
    task's description); an object value is used as the content itself.
    """

    action_type: Literal["post_to_room", "update_artifact"] = "post_to_room"
    text: Text | None = None
    from_key: StateKey | None = None
    artifact_id: Ref | None = None
    artifact_type: ArtifactKind = "doc"
    title: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    mode: Literal["replace", "append"] = "replace"

    @model_validator(mode="after")
    def _fields_for_action(self) -> ActionConfig:
        if self.text is None and self.from_key is None:
            raise ValueError(f"{self.action_type} needs text or from_key")
        if self.action_type == "update_artifact" and not (self.artifact_id or self.title):
            raise ValueError("update_artifact needs artifact_id (update) or title (create)")
        if self.mode == "append" and self.artifact_type != "doc" and not self.artifact_id:
            raise ValueError("mode 'append' applies to doc artifacts only")
        return self


class SubworkflowConfig(NodeConfig):
    """Runs another workflow as a child run (its own run id, linked to this run).

    ``inputs`` maps child input keys to parent state keys; the child's result (its output) is
    written to ``output_key``. ``version`` pins a version; ``None`` takes the current one when
    the node runs. The child's budgets are its own, bounded by what the parent has left.
    """

    workflow_id: Ref
    version: int | None = Field(default=None, ge=1)
    inputs: dict[StateKey, StateKey] = Field(default_factory=dict, max_length=64)
    output_key: StateKey | None = None
