"""Neo4j GraphStore: the shared Cypher in one database, partitioned by the ``room`` property.

Composite uniqueness constraints on (room, key|id) make MERGE race-safe and back every lookup
with an index; they are created once at start.
"""

from __future__ import annotations

from typing import Any

from neo4j import AsyncDriver, AsyncGraphDatabase, RoutingControl

from coagent_graphstore.adapters.cypher import CypherGraphStore, Row
from coagent_graphstore.models import Scope

SCHEMA = (
    "CREATE CONSTRAINT coagent_entity IF NOT EXISTS "
    "FOR (e:Entity) REQUIRE (e.room, e.key) IS UNIQUE",
    "CREATE CONSTRAINT coagent_chunk IF NOT EXISTS FOR (c:Chunk) REQUIRE (c.room, c.id) IS UNIQUE",
    "CREATE INDEX coagent_community IF NOT EXISTS FOR (c:Community) ON (c.room, c.id)",
    "CREATE INDEX coagent_merge_log IF NOT EXISTS FOR (m:MergeLog) ON (m.room)",
)
_PURGE = (
    "MATCH (e:Entity {room: $room}) DETACH DELETE e",
    "MATCH (c:Chunk {room: $room}) DELETE c",
    "MATCH (c:Community {room: $room}) DELETE c",
    "MATCH (m:MergeLog {room: $room}) DELETE m",
)


class Neo4jRunner:
    def __init__(self, driver: AsyncDriver, database: str | None = None) -> None:
        self._driver = driver
        self._database = database
        self._schema_ready = False

    async def _run(self, query: str, params: dict[str, Any], routing: RoutingControl) -> list[Row]:
        records, _, _ = await self._driver.execute_query(
            query, params, database_=self._database, routing_=routing
        )
        return [list(record.values()) for record in records]

    async def read(self, scope: Scope, query: str, params: dict[str, Any]) -> list[Row]:
        return await self._run(query, params, RoutingControl.READ)

    async def write(self, scope: Scope, query: str, params: dict[str, Any]) -> list[Row]:
        if not self._schema_ready:
            for statement in SCHEMA:
                await self._run(statement, {}, RoutingControl.WRITE)
            self._schema_ready = True
        return await self._run(query, params, RoutingControl.WRITE)

    async def purge(self, scope: Scope) -> None:
        for statement in _PURGE:
            await self._run(statement, {"room": scope.key}, RoutingControl.WRITE)

    async def ping(self) -> None:
        await self._driver.verify_connectivity()

    async def close(self) -> None:
        await self._driver.close()


def neo4j_graph_store(
    uri: str, user: str, password: str, database: str | None = None
) -> CypherGraphStore:
    driver = AsyncGraphDatabase.driver(uri, auth=(user, password))
    return CypherGraphStore(Neo4jRunner(driver, database))
