"""The whole fleet, started once for the e2e tier with the same code as ``coagent up``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from coagent_cli.fleet import SERVICES, Fleet, FleetConfig
from coagent_cli.stack import EmbeddedStack, free_port
from coagent_cli.testing import ephemeral_stack_config, scratch_dir
from coagent_cli.up import bootstrap_admin, prepare_databases

ADMIN_EMAIL = "ada@example.org"
ADMIN_PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def fleet() -> Iterator[Fleet]:
    """Embedded stack + migrations + super admin + six services, all ready."""
    data_dir = scratch_dir("fleet")
    mp = pytest.MonkeyPatch()
    mp.setenv("COAGENT_ADMIN_EMAIL", ADMIN_EMAIL)
    mp.setenv("COAGENT_ADMIN_PASSWORD", ADMIN_PASSWORD)
    with EmbeddedStack(ephemeral_stack_config(data_dir / "stack")) as stack:
        urls = prepare_databases(stack)
        bootstrap_admin(data_dir, urls["gateway"])
        config = FleetConfig(data_dir=data_dir, ports={s.name: free_port() for s in SERVICES})
        running = Fleet(config, stack.endpoints, urls)
        running.start()
        try:
            running.wait_ready(timeout_s=90)
            yield running
        finally:
            running.stop()
            mp.undo()
    shutil.rmtree(data_dir, ignore_errors=True)
