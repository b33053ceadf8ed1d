"""http, tool, update_artifact and subworkflow nodes running on LangGraph (memory adapters).

The HTTP calls go to a real local server, allowed through the operator allow-list.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from coagent_contracts.workflow import ArtifactWriteRequestedV1, RunStartedV1
from coagent_workflow_engine.graphs import GraphInvalid
from coagent_workflow_engine.runtime.ssrf import EgressPolicy
from coagent_workflow_engine.workflows import service
from coagent_workflow_engine.workflows.domain import Caller

START = {"id": "start", "type": "start"}
END = {"id": "end", "type": "end"}


def http(node_id: str, url: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "http", "config": {"url": url, **config}}


def linear(env: Any, *nodes: dict[str, Any]) -> dict[str, Any]:
    ids = ["start", *(n["id"] for n in nodes), "end"]
    return env.graph([START, *nodes, END], list(zip(ids, ids[1:], strict=False)))


@pytest.fixture
def open_env(env: Any) -> Any:
    env.deps.egress = EgressPolicy.of(["127.0.0.1/32"], max_response_bytes=64 * 1024)
    return env


def step(env: Any, run_id: str, node_id: str) -> Any:
    return next(s for s in env.steps(run_id) if s.node_id == node_id)


async def test_an_http_node_writes_the_response_to_state(open_env: Any, local_http: str) -> None:
    env = open_env
    node = http("call", local_http + "/json?q={{topic}}", output_key="resp")
    end = {"id": "end", "type": "end", "config": {"result_key": "resp"}}
    graph = env.graph([START, node, end], [("start", "call"), ("call", "end")])
    await env.runs.execute(env_owner(), await env.workflow(graph), "r1", {})
    run = await env.drive()

    assert run.status == "succeeded", run.error
    resp = run.output["resp"]
    assert resp["status"] == 200
    assert resp["body"]["hello"] == "world"
    assert resp["body"]["host"] == local_http.removeprefix("http://")  # the name, not the IP
    assert step(env, run.id, "call").input["url"].startswith(local_http + "/json?q=")


async def test_a_post_sends_the_rendered_body_and_headers(open_env: Any, local_http: str) -> None:
    env = open_env
    tool = {"id": "t", "type": "tool", "config": {"tool_name": "template"}}
    tool["config"]["arguments"] = {"template": "hello {{who}}"}
    tool["config"]["output_key"] = "greeting"
    post = http(
        "post",
        local_http + "/echo",
        method="POST",
        headers={"X-Token": "t-{{who}}"},
        body={"text": "{{greeting}}", "n": 3},
        output_key="resp",
    )
    graph = linear(env, tool, post)
    run = await _start_with_state(env, graph, who="Ada")

    assert run.status == "succeeded", run.error
    body = step(env, run.id, "post").output["resp"]["body"]
    assert body == {"received": {"text": "hello Ada", "n": 3}, "token": "t-Ada"}


async def test_a_redirect_to_an_internal_address_is_refused(open_env: Any, local_http: str) -> None:
    env = open_env
    run = await _start_with_state(env, linear(env, http("call", local_http + "/redirect-internal")))

    assert (run.status, run.error_code) == ("failed", "node_failed")
    assert "cloud metadata address" in (step(env, run.id, "call").error or "")


async def test_a_redirect_to_an_allowed_address_is_followed(open_env: Any, local_http: str) -> None:
    env = open_env
    graph = linear(env, http("call", local_http + "/redirect-ok", output_key="resp"))
    run = await _start_with_state(env, graph)

    assert run.status == "succeeded", run.error
    assert step(env, run.id, "call").output["resp"]["body"]["query"] == "via=redirect"


@pytest.mark.parametrize(
    ("path", "config", "error"),
    [
        ("/big", {}, "exceeds the 65536-byte limit"),
        ("/fail", {}, "answered HTTP 500"),
        ("/slow", {"timeout_s": 0.5}, "timed out after 0.5 s"),
    ],
)
async def test_http_failures_fail_the_node_with_the_reason(
    open_env: Any, local_http: str, path: str, config: dict[str, Any], error: str
) -> None:
    env = open_env
    run = await _start_with_state(env, linear(env, http("call", local_http + path, **config)))

    assert (run.status, run.error_code) == ("failed", "node_failed")
    assert error in (step(env, run.id, "call").error or "")


async def test_cancelling_the_run_aborts_an_in_flight_http_call(
    open_env: Any, local_http: str
) -> None:
    env = open_env
    graph = linear(env, http("call", local_http + "/slow", timeout_s=30))
    await env.runs.execute(env_owner(), await env.workflow(graph), "r1", {})
    run = await env.claim()
    task = asyncio.create_task(env.executor.execute(run))
    await asyncio.sleep(1.0)  # the request is at the server, which answers after 5 s
    cancelled_at = asyncio.get_running_loop().time()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    assert asyncio.get_running_loop().time() - cancelled_at < 2
    assert "call" not in {s.node_id for s in env.steps(run.id)}


async def test_without_the_allow_list_loopback_is_refused(env: Any, local_http: str) -> None:
    run = await _start_with_state(env, linear(env, http("call", local_http + "/json")))

    assert run.status == "failed"
    assert "loopback address" in (step(env, run.id, "call").error or "")


async def test_a_non_2xx_status_may_be_accepted(open_env: Any, local_http: str) -> None:
    env = open_env
    node = http("call", local_http + "/fail", fail_on_status=False, output_key="resp")
    run = await _start_with_state(env, linear(env, node))

    assert run.status == "succeeded", run.error
    assert step(env, run.id, "call").output["resp"]["status"] == 500


async def test_update_artifact_asks_chat_once_keyed_by_run_and_node(env: Any) -> None:
    tool = {
        "id": "t",
        "type": "tool",
        "config": {"tool_name": "template", "arguments": {"template": "Notes for {{who}}"}},
    }
    tool["config"]["output_key"] = "notes"
    action = {
        "id": "save",
        "type": "action",
        "config": {
            "action_type": "update_artifact",
            "title": "Summary for {{who}}",
            "from_key": "notes",
        },
    }
    run = await _start_with_state(env, linear(env, tool, action), who="Ada")

    assert run.status == "succeeded", run.error
    [request] = env.events(ArtifactWriteRequestedV1, run.id)
    assert request.data.write_key == f"{run.id}.save"
    assert (request.data.title, request.data.content) == ("Summary for Ada", "Notes for Ada")
    assert (request.data.room_id, request.data.artifact_id) == ("r1", None)
    assert request.data.written_by == f"workflow:{run.workflow_id}"
    assert step(env, run.id, "save").input["request_id"] == request.event_id


async def test_update_artifact_needs_a_room(env: Any) -> None:
    action = {
        "id": "save",
        "type": "action",
        "config": {"action_type": "update_artifact", "title": "T", "text": "x"},
    }
    workflow = await env.workflow(linear(env, action))
    await env.runs.execute(env_owner(), workflow, None, {})
    run = await env.drive()

    assert run.status == "failed"
    assert "needs a run bound to a room" in (step(env, run.id, "save").error or "")


# ------------------------------------------------------------------------------ subworkflows


def sub(node_id: str, workflow_id: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "subworkflow", "config": {"workflow_id": workflow_id, **config}}


async def test_a_subworkflow_runs_as_a_linked_child_run(env: Any) -> None:
    child_end = {"id": "end", "type": "end", "config": {"result_key": "current_proposal"}}
    child_graph = env.graph(
        [START, env.agent_node("writer"), child_end], [("start", "writer"), ("writer", "end")]
    )
    child_wf = await env.workflow(child_graph, max_tokens=50_000)
    node = sub("child", child_wf, inputs={"topic": "subject"}, output_key="child_out")
    run = await _start_with_state(env, linear(env, node), subject="primes")

    assert run.status == "succeeded", run.error
    recorded = step(env, run.id, "child")
    child = env.store.runs[recorded.input["child_run_id"]]
    assert child.parent_run_id == run.id
    assert child.status == "succeeded"
    assert child.input == {"topic": "primes"}
    assert child.room_id == "r1"
    assert child.limits is not None
    assert child.limits["max_tokens"] <= 50_000
    assert recorded.output["child_out"] == child.output
    child_tokens = sum(s.tokens for s in env.steps(child.id))
    assert child_tokens > 0
    assert recorded.tokens == child_tokens  # charged to the parent's budget
    assert len(env.events(RunStartedV1, child.id)) == 1


async def test_a_failing_child_fails_the_parent_node(env: Any) -> None:
    bad = http("call", "http://10.0.0.1/")
    child_wf = await env.workflow(linear(env, bad))
    run = await _start_with_state(env, linear(env, sub("child", child_wf)))

    assert (run.status, run.error_code) == ("failed", "node_failed")
    error = step(env, run.id, "child").error or ""
    assert "ended failed" in error
    assert "node_failed" in error


async def test_a_workflow_running_above_is_refused_at_run_time(
    env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_check(*_: Any) -> None:
        return None

    # a cycle the save-time check cannot see (e.g. saved before it existed) reaches run time
    monkeypatch.setattr(service, "check_no_cycle", no_check)
    first = await env.workflow(linear(env))
    second = await env.workflow(linear(env, sub("call_first", first)))
    await env.workflows.update(env_owner(), first, graph_data=linear(env, sub("s", second)))
    run = await _start_with_state(env, linear(env, sub("top", first)))

    assert (run.status, run.error_code) == ("failed", "node_failed")
    chain = [run]
    while len(chain) < 10:
        children = [r for r in env.store.runs.values() if r.parent_run_id == chain[-1].id]
        if not children:
            break
        chain.append(children[0])
    assert [r.workflow_id for r in chain[1:]] == [first, second]
    innermost = [s for s in env.steps(chain[-1].id) if s.error]
    assert f"workflow {first} is already running above" in (innermost[0].error or "")
    assert all(r.status == "failed" for r in chain)


async def test_a_cycle_is_refused_when_saving(env: Any) -> None:
    first = await env.workflow(linear(env))
    second = await env.workflow(linear(env, sub("call_first", first)))
    with pytest.raises(GraphInvalid) as caught:
        await env.workflows.update(env_owner(), first, graph_data=linear(env, sub("s", second)))
    [problem] = caught.value.problems
    assert problem["loc"] == ["nodes", 1, "config", "workflow_id"]
    assert problem["type"] == "cycle"
    assert first in problem["msg"]
    assert second in problem["msg"]
    with pytest.raises(GraphInvalid):  # directly calling itself
        await env.workflows.update(env_owner(), first, graph_data=linear(env, sub("s", first)))


async def test_cancelling_the_parent_cancels_the_child(slow_env: Any) -> None:
    env = slow_env
    child_graph = env.graph(
        [START, env.agent_node("slow"), END], [("start", "slow"), ("slow", "end")]
    )
    child_wf = await env.workflow(child_graph)
    workflow = await env.workflow(linear(env, sub("child", child_wf)))
    await env.runs.execute(env_owner(), workflow, "r1", {})
    parent = await env.claim()
    task = asyncio.create_task(env.executor.execute(parent))
    child = await _eventually_child(env, parent.id)
    await env.runs.cancel(env_owner(), workflow, parent.id)  # the flag, then the task
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await env.executor.finish_cancelled(parent.id, parent.lease_owner, "cancelled on request")

    assert env.store.runs[parent.id].status == "cancelled"
    stopped = env.store.runs[child.id]
    assert (stopped.status, stopped.error) == ("cancelled", "its parent run stopped")


async def test_a_stopping_worker_leaves_the_child_to_its_lease(slow_env: Any) -> None:
    env = slow_env
    child_graph = env.graph(
        [START, env.agent_node("slow"), END], [("start", "slow"), ("slow", "end")]
    )
    workflow = await env.workflow(linear(env, sub("child", await env.workflow(child_graph))))
    await env.runs.execute(env_owner(), workflow, "r1", {})
    parent = await env.claim()
    task = asyncio.create_task(env.executor.execute(parent))
    child = await _eventually_child(env, parent.id)
    task.cancel()  # shutdown, not a cancel request
    with pytest.raises(asyncio.CancelledError):
        await task

    assert env.store.runs[parent.id].status == "running"
    assert env.store.runs[child.id].status == "running"  # resumed with its parent later


# ------------------------------------------------------------------------------ helpers


def env_owner() -> Caller:
    return Caller("u1", "teacher")


async def _start_with_state(env: Any, graph: dict[str, Any], **state: Any) -> Any:
    """A run whose initial state has ``state``'s keys (through a start → tool-free graph)."""
    if state:
        graph = _with_initial_state(graph, state)
    await env.runs.execute(env_owner(), await env.workflow(graph), "r1", {})
    return await env.drive()


def _with_initial_state(graph: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """Prefix the graph with template tools writing each key (the start node keeps the
    trigger payload under ``input``, so top-level keys come from nodes)."""
    nodes, edges = list(graph["nodes"]), list(graph["edges"])
    first = next(e for e in edges if e["source"] == "start")
    previous = "start"
    for key, value in state.items():
        node_id = f"set_{key}"
        nodes.append(
            {
                "id": node_id,
                "type": "tool",
                "config": {
                    "tool_name": "template",
                    "arguments": {"template": str(value)},
                    "output_key": key,
                },
            }
        )
        edges.append({"id": f"e_{node_id}", "source": previous, "target": node_id})
        previous = node_id
    edges = [e for e in edges if e is not first]
    edges.append({"id": "e_state_last", "source": previous, "target": first["target"]})
    return {**graph, "nodes": nodes, "edges": edges}


async def _eventually_child(env: Any, parent_id: str) -> Any:
    for _ in range(200):
        children = [r for r in env.store.runs.values() if r.parent_run_id == parent_id]
        if children and env.steps(children[0].id):
            return children[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the child run never started")
