"""Read-only administration views."""
