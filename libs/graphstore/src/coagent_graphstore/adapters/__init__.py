"""Concrete GraphStore and VectorIndex implementations."""
