"""The whole fleet, started once for the e2e tier with the same code as ``coagent up``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from coagent_cli.fleet import Fleet
from coagent_cli.testing import running_fleet

ADMIN_EMAIL = "ada@example.org"
ADMIN_PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def fleet() -> Iterator[Fleet]:
    """Embedded stack + migrations + super admin + six services, all ready."""
    with running_fleet(ADMIN_EMAIL, ADMIN_PASSWORD) as running:
        yield running
