"""The graphrag-ingest database of the integration tests, migrated once per test module.

``engine``, ``sessions`` and ``nc`` come from the fleet's test plugin (coagent_cli.testing).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture(scope="module")
def database_url(service_database_url: Callable[[str], str]) -> str:
    # Sync on purpose: migrating runs its own event loop, which cannot start inside a running one.
    return service_database_url("graphrag-ingest")
