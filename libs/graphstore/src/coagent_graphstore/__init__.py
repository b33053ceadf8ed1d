"""GraphRAG storage: room-partitioned graph and vector ports shared by ingest and query."""
