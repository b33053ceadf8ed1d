"""Port checks shared by the services' start-up and the ``coagent`` supervisor."""

from __future__ import annotations

import socket


def bind_error(host: str, port: int) -> OSError | None:
    """Why ``host:port`` cannot be bound right now, or None if it can.

    The servers bind with ``SO_REUSEADDR``, so a port held only by TIME_WAIT connections is free
    for them; the probe does the same, or a quick restart would be refused for no reason.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc
    return None
