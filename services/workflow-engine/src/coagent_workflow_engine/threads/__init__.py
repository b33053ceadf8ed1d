"""Sandbox conversations with one agent (``/api/v1/threads``), outside any room or workflow."""
