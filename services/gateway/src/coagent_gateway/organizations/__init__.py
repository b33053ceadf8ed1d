"""Workspace organizations and projects."""
