"""GraphRAG evaluation harness: a generated multi-room corpus with gold facts, run through the
real ingest pipeline and query service (``python -m bench.graphrag --help``)."""
