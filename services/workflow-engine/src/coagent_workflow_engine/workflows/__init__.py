"""Workflows as first-class documents: named, owned, with immutable graph versions."""
