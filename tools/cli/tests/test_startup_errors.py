"""Bad configuration ends a service's start-up with one clear line on stderr, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from coagent_cli.stack import free_port


def _start_chat(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("COAGENT_", "CHAT_"))}
    return subprocess.run(
        [sys.executable, "-m", "coagent_chat", "serve"],
        env={**clean, "CHAT_PORT": str(free_port()), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_unreachable_broker_is_one_line() -> None:
    port = free_port()  # nothing listens there
    line = _one_error_line(
        _start_chat(COAGENT_NATS_URL=f"nats://127.0.0.1:{port}", COAGENT_CONNECT_TIMEOUT_S="1")
    )
    assert line.startswith("coagent-chat: cannot reach NATS at")
    assert str(port) in line


def test_placeholder_secret_outside_dev_is_one_line() -> None:
    line = _one_error_line(_start_chat(COAGENT_ENV="prod"))
    assert "COAGENT_INTERNAL_TOKEN_SECRET" in line


def test_port_in_use_is_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = _one_error_line(_start_chat(CHAT_PORT=str(port)))
    assert f"127.0.0.1:{port}" in line


def test_malformed_number_names_the_variable() -> None:
    line = _one_error_line(_start_chat(CHAT_PORT="eighty"))
    assert "CHAT_PORT" in line
