"""The whole fleet under a steady load survives a kill -9 of every service and a NATS restart.

Clients post into a few rooms through the gateway (each message with its own marker and
``Idempotency-Key``, retried until acknowledged) and follow their rooms on the WebSocket,
resuming with ``?since=<last seq>`` whenever the socket drops. Every few messages carries a
keyword that a ``user_message`` policy of the room turns into a run of a one-agent workflow, so
runs (and agent replies) happen all along. Meanwhile each service in turn is killed with SIGKILL
and restarted, then nats-server is stopped and started again on the same port and store.

Afterwards: every acknowledged message is stored exactly once, every matching message fired
exactly once and each firing has exactly one run, every run ended, each run replied at most once,
and every WebSocket client saw every stored message of its room once, in ``seq`` order.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from coagent_cli.fleet import Fleet
from coagent_cli.stack import EmbeddedStack
from coagent_cli.testing import running_stack_and_fleet
from coagent_cli.testing_faults import (
    Follower,
    Ledger,
    Poster,
    kill_and_restart,
    restart_nats,
    room_history,
)

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login, one_agent_graph

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

ROOMS = 3
CLIENTS_PER_ROOM = 2
PERIOD_S = 0.8  # per client, between acknowledged posts
FIRE_EVERY = 5  # every 5th message of a client matches the room's policy
KEYWORD = "please-answer"
FAULTS = ("trigger", "workflow-engine", "chat", "graphrag-ingest", "graphrag-query", "gateway")
WARMUP_S = 2.0  # load before the first fault
CALM_S = 1.5  # load without a fault after each injection
DOWN_S = 0.5  # how long a killed service (or nats-server) stays down
READY_S = 120.0
# A consumer killed with messages in flight gets them again after its 30 s ack wait.
SETTLE_S = 75.0
TERMINAL = frozenset({"succeeded", "failed", "cancelled", "timed_out"})
RUNS_PAGE = 100  # the largest page of a workflow's runs
# The engine keeps its default run lease (15 s): a shorter one expires while a busy machine
# starves the heartbeat, and the runs are claimed again while they still run.
SERVICE_ENV = {
    # A restarted service imports from cached bytecode instead of compiling every module
    # again, which on a busy 2-core machine is most of its start-up time.
    "PYTHONDONTWRITEBYTECODE": "",
    "PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "coagent-pycache"),
}


@pytest.fixture(scope="module")
def faulty_fleet() -> Iterator[tuple[EmbeddedStack, Fleet]]:
    """A fleet of its own (every part of it gets killed), with its stack (NATS is restarted)."""
    with running_stack_and_fleet(ADMIN_EMAIL, ADMIN_PASSWORD, SERVICE_ENV) as running:
        yield running
        import shutil  # DEBUG

        shutil.rmtree("/tmp/ff-logs", ignore_errors=True)
        shutil.copytree(running[1].log_dir, "/tmp/ff-logs/fleet")
        shutil.copytree(running[0].log_dir, "/tmp/ff-logs/stack")


@dataclass(frozen=True)
class Room:
    room_id: str
    workflow_id: str
    policy_id: str


@dataclass(frozen=True)
class Injection:
    target: str
    at_s: float  # since the load started
    outage_s: float  # from the kill (or stop) to the whole fleet answering ready again
    acked_before: int


@dataclass
class Snapshot:
    """What the fleet holds, read back through the gateway."""

    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by room
    firings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by room
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by room
    unfinished: list[dict[str, Any]] = field(default_factory=list)  # with their steps

    def matching(self, room_id: str) -> list[dict[str, Any]]:
        """The room's human messages the policy matches."""
        return [
            m
            for m in self.history[room_id]
            if not m["metadata"]["is_ai"] and KEYWORD in m["content"]
        ]

    def settled(self, followers: dict[str, list[Follower]]) -> bool:
        """Every matching message fired, every firing ran to an end, every socket caught up."""
        for room_id, history in self.history.items():
            fired = [f for f in self.firings[room_id] if f["outcome"] == "fired"]
            runs = self.runs[room_id]
            if len(fired) < len(self.matching(room_id)) or len(runs) < len(fired):
                return False
            if any(r["status"] not in TERMINAL for r in runs):
                return False
            stored = {m["seq"] for m in history}
            if any(not stored <= set(f.seqs()) for f in followers[room_id]):
                return False
        return True


def _setup(admin: httpx.Client) -> list[Room]:
    """Rooms, each with a workflow of one offline agent and a policy firing it on the keyword."""
    course = admin.post("/api/v1/courses/", json={"title": "Fleet faults", "description": "d"})
    assert course.status_code in (200, 201), course.text
    agent = admin.post(
        "/api/v1/agents/global",
        json={
            "name": "Tutor",
            "type": "teacher",
            "system_prompt": "Answer briefly.",
            "model_provider": "offline",
        },
    )
    assert agent.status_code == 201, agent.text
    rooms = []
    for index in range(ROOMS):
        room = admin.post(
            "/api/v1/rooms/", json={"name": f"Load {index}", "course_id": course.json()["id"]}
        )
        assert room.status_code in (200, 201), room.text
        room_id = room.json()["id"]
        # One workflow per room keeps each room's runs on one page of the runs list.
        workflow = admin.post(
            "/api/v1/workflows",
            json={"name": f"answer-{index}", "graph_data": one_agent_graph(agent.json()["id"])},
        )
        assert workflow.status_code == 201, workflow.text
        policy = admin.post(
            "/api/v1/triggers",
            json={
                "name": f"answer {index}",
                "event_type": "user_message",
                # ``allow``: every matching message gets its run, even while another runs.
                "conditions": {"keyword": KEYWORD, "overlap": "allow"},
                "target_workflow_id": workflow.json()["id"],
                "scope_session_id": room_id,
                "is_active": True,
            },
        )
        assert policy.status_code in (200, 201), policy.text
        rooms.append(Room(room_id, workflow.json()["id"], policy.json()["id"]))
    return rooms


async def _inject(
    stack: EmbeddedStack, fleet: Fleet, ledger: Ledger, started: float
) -> list[Injection]:
    """Each service in turn, then nats-server: down, up again, and the fleet ready."""
    done: list[Injection] = []
    await asyncio.sleep(WARMUP_S)
    for target in (*FAULTS, "nats-server"):
        at = time.monotonic()
        acked = len(ledger.acked)
        if target == "nats-server":
            await asyncio.to_thread(restart_nats, stack, DOWN_S)
        else:
            await asyncio.to_thread(kill_and_restart, fleet, target, DOWN_S)
        await asyncio.to_thread(fleet.wait_ready, READY_S)
        done.append(Injection(target, at - started, time.monotonic() - at, acked))
        await asyncio.sleep(CALM_S)
    return done


async def _snapshot(api: httpx.AsyncClient, rooms: list[Room]) -> Snapshot:
    snap = Snapshot()
    for room in rooms:
        snap.history[room.room_id] = await room_history(api, room.room_id)
        firings = await api.get(f"/api/v1/triggers/{room.policy_id}/firings", params={"limit": 500})
        assert firings.status_code == 200, firings.text
        snap.firings[room.room_id] = firings.json()
        runs = await api.get(
            f"/api/v1/workflows/{room.workflow_id}/runs", params={"limit": RUNS_PAGE}
        )
        assert runs.status_code == 200, runs.text
        snap.runs[room.room_id] = runs.json()
    return snap


async def _settle(
    api: httpx.AsyncClient, rooms: list[Room], followers: dict[str, list[Follower]]
) -> None:
    """Wait (gently: the fleet is still catching up) until everything settled or the deadline;
    the checks afterwards say precisely what is missing."""
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        if (await _snapshot(api, rooms)).settled(followers):
            return
        await asyncio.sleep(1.0)


async def _load_and_faults(
    stack: EmbeddedStack, fleet: Fleet, rooms: list[Room], cookie: str
) -> tuple[list[Injection], Ledger, dict[str, list[Follower]], Snapshot, float]:
    """Run the load and the faults, wait until everything settled; return what happened."""
    ws_base = fleet.gateway_url.replace("http://", "ws://") + "/api/v1/chat/ws/"
    followers = {
        r.room_id: [Follower(ws_base + r.room_id, cookie) for _ in range(CLIENTS_PER_ROOM)]
        for r in rooms
    }
    run = uuid.uuid4().hex[:6]
    posters = [
        Poster(f"m{run}-r{i}c{c}", r.room_id, KEYWORD, FIRE_EVERY, PERIOD_S, deadline_s=READY_S)
        for i, r in enumerate(rooms)
        for c in range(CLIENTS_PER_ROOM)
    ]
    ledger, stop_posting, stop_following = Ledger(), asyncio.Event(), asyncio.Event()
    everyone = [f for group in followers.values() for f in group]
    following = [asyncio.create_task(f.run(stop_following)) for f in everyone]
    headers = {"Cookie": cookie}
    async with httpx.AsyncClient(base_url=fleet.gateway_url, headers=headers, timeout=10) as api:
        await asyncio.wait_for(asyncio.gather(*(f.joined.wait() for f in everyone)), 20)
        await asyncio.sleep(0.3)  # the live subscriptions are in place
        started = time.monotonic()
        posting = [asyncio.create_task(p.run(api, ledger, stop_posting)) for p in posters]
        try:
            injections = await _inject(stack, fleet, ledger, started)
        finally:
            stop_posting.set()
            await asyncio.gather(*posting)
        load_s = time.monotonic() - started

        try:
            await _settle(api, rooms, followers)
        finally:
            stop_following.set()
            await asyncio.gather(*following)
        snap = await _snapshot(api, rooms)
        for room in rooms:
            for r in snap.runs[room.room_id]:
                if r["status"] not in TERMINAL:
                    path = f"/api/v1/workflows/{room.workflow_id}/runs/{r['id']}"
                    snap.unfinished.append((await api.get(path)).json())
    return injections, ledger, followers, snap, load_s


def _check_messages(ledger: Ledger, snap: Snapshot) -> int:
    """Every acknowledged post is stored once, as acknowledged; nothing else is stored twice."""
    assert not ledger.unacked, f"never acknowledged: {ledger.unacked}"
    stored: dict[str, dict[str, Any]] = {}
    markers: Counter[str] = Counter()
    for history in snap.history.values():
        for message in history:
            if not message["metadata"]["is_ai"]:
                marker = message["content"].split()[0]
                markers[marker] += 1
                stored[marker] = message
    twice = {m: n for m, n in markers.items() if n > 1}
    assert not twice, f"stored more than once: {twice}"
    missing = sorted(set(ledger.acked) - set(stored))
    assert not missing, f"acknowledged but not stored: {missing}"
    for marker, ack in ledger.acked.items():
        message = stored[marker]
        assert (ack.room_id, ack.seq, ack.message_id) == (
            message["room_id"],
            message["seq"],
            message["id"],
        ), (ack, message)
    return len(stored)


def _check_runs(rooms: list[Room], snap: Snapshot) -> Counter[str]:
    """One firing per matching message, one run per firing, every run ended, one reply each."""
    statuses: Counter[str] = Counter()
    for room in rooms:
        firings, runs = snap.firings[room.room_id], snap.runs[room.room_id]
        keys = [f["firing_key"] for f in firings]
        assert len(keys) == len(set(keys)), f"a firing key logged twice in {room.room_id}"
        fired = {f["firing_key"] for f in firings if f["outcome"] == "fired"}
        matching = snap.matching(room.room_id)
        assert len(fired) == len(matching), (
            f"{len(matching)} matching messages but {len(fired)} firings in {room.room_id}"
        )
        assert len(runs) < RUNS_PAGE, "more runs than one page shows: lower the load"
        run_keys = Counter(r["trigger"]["firing_key"] for r in runs)
        assert max(run_keys.values(), default=1) == 1, f"two runs for one firing: {run_keys}"
        assert set(run_keys) == fired, "a firing without its run, or a run without a firing"
        unfinished = [(r["id"], r["status"]) for r in runs if r["status"] not in TERMINAL]
        assert not unfinished, f"runs that never ended: {snap.unfinished}"
        statuses.update(r["status"] for r in runs)
        replies = Counter(
            m["metadata"]["run_id"] for m in snap.history[room.room_id] if m["metadata"]["is_ai"]
        )
        assert max(replies.values(), default=1) == 1, f"a run replied twice: {replies}"
        succeeded = {r["id"] for r in runs if r["status"] == "succeeded"}
        assert succeeded <= set(replies), f"succeeded without a reply: {succeeded - set(replies)}"
    return statuses


def _check_sockets(followers: dict[str, list[Follower]], snap: Snapshot) -> int:
    """Each socket client saw its room's stored messages once each, in seq order, as stored."""
    frames = 0
    for room_id, group in followers.items():
        history = snap.history[room_id]
        stored = {m["seq"]: (m["id"], m["content"]) for m in history}
        for follower in group:
            seqs = follower.seqs()
            repeated = [(a, b) for a, b in zip(seqs, seqs[1:], strict=False) if b <= a]
            assert not repeated, f"seq repeated or backwards (prev, next): {repeated}"
            missing = sorted(set(stored) - set(seqs))
            assert not missing, f"{room_id}: never delivered on a socket: {missing}"
            for frame in follower.frames:
                assert stored[frame.seq] == (frame.message_id, frame.content), frame
            frames += len(seqs)
    return frames


def _keep_logs(stack: EmbeddedStack, fleet: Fleet) -> Path:
    kept = Path(tempfile.mkdtemp(prefix="coagent-fleet-faults-"))
    shutil.copytree(fleet.log_dir, kept / "services")
    shutil.copytree(stack.log_dir, kept / "stack")
    return kept


@pytest.mark.timeout(600)
async def test_the_fleet_survives_every_fault_under_load(
    faulty_fleet: tuple[EmbeddedStack, Fleet], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, fleet = faulty_fleet
    with httpx.Client(base_url=fleet.gateway_url, timeout=15) as admin:
        login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        rooms = _setup(admin)
        cookie = f"access_token={admin.cookies.get('access_token', path='/')}"
    began = time.monotonic()
    injections, ledger, followers, snap, load_s = await _load_and_faults(
        stack, fleet, rooms, cookie
    )
    settled_s = time.monotonic() - began - load_s

    try:
        stored = _check_messages(ledger, snap)
        statuses = _check_runs(rooms, snap)
        frames = _check_sockets(followers, snap)
    except AssertionError as failure:
        # The fleet's data directory goes away with the fixture; its logs tell what happened.
        kept = _keep_logs(stack, fleet)
        raise AssertionError(f"{failure}\n(fleet and stack logs kept in {kept})") from None
    assert [i.target for i in injections] == [*FAULTS, "nats-server"]

    everyone = [f for group in followers.values() for f in group]
    drops: Counter[str] = Counter()
    for follower in everyone:
        drops.update(follower.drops)
    retried = sum(1 for a in ledger.acked.values() if a.attempts > 1)
    recognised = sum(1 for a in ledger.acked.values() if a.status == 200)
    lines = [
        "",
        f"fleet faults: {ROOMS} rooms x {CLIENTS_PER_ROOM} clients, load for {load_s:.1f}s, "
        f"settled {settled_s:.1f}s later",
        *(
            f"  t={i.at_s:5.1f}s  {'restart' if i.target == 'nats-server' else 'kill -9'} "
            f"{i.target:<16} fleet ready again after {i.outage_s:4.1f}s "
            f"({i.acked_before} posts acknowledged before)"
            for i in injections
        ),
        f"  posts acknowledged {len(ledger.acked)}, retried {retried} "
        f"({dict(ledger.retries)}), answered 200 as already stored {recognised}",
        f"  unexpected answers (retried all the same): {len(ledger.errors)} {ledger.errors[:3]}",
        f"  socket connections {sum(f.connections for f in everyone)} (drops {dict(drops)})",
        f"checked: {stored} human messages stored once each as acknowledged; "
        f"{sum(len(snap.matching(r.room_id)) for r in rooms)} matching messages fired once each; "
        f"{sum(statuses.values())} runs, one per firing, all ended {dict(statuses)}, "
        f"at most one reply each; {len(everyone)} socket clients saw {frames} frames, every "
        f"stored message of their room once, in seq order",
    ]
    with capsys.disabled():
        print("\n".join(lines))  # noqa: T201 -- the fault suite's report, shown by `make test`
