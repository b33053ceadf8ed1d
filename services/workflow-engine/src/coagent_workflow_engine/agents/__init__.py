"""Agent configurations, their versions and types, room assignments and encrypted provider keys."""
