"""The embedded stack: NATS (JetStream), PostgreSQL 18 + pgvector and FalkorDB, all from wheels.

``coagent up`` and the pytest fixtures start it with :class:`EmbeddedStack`; everything it needs
lives under one data directory, so there is no Docker and no system service to install.
"""

from ._config import PORT_ENV_VARS, StackConfig, StackEndpoints, StackError, free_port
from ._stack import EmbeddedStack

__all__ = [
    "PORT_ENV_VARS",
    "EmbeddedStack",
    "StackConfig",
    "StackEndpoints",
    "StackError",
    "free_port",
]
