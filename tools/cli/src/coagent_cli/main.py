"""The ``coagent`` command: ``up`` runs the embedded stack and the fleet; ``status`` reports."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

from pydantic import ValidationError
from rich.console import Console

from coagent_cli import asyncapi
from coagent_cli.fleet import SERVICES, Fleet, FleetConfig, FleetError, service_pids
from coagent_cli.stack import EmbeddedStack, StackError
from coagent_cli.traces import PROJECT, TraceViewer, viewer_config
from coagent_cli.up import (
    bootstrap_admin,
    check_service_ports,
    data_dir_from,
    prepare_databases,
    stack_config_from,
)
from coagent_kit.db import DatabaseUnavailable
from coagent_kit.settings import ConfigurationError

console = Console(highlight=False)
T = TypeVar("T")
#: A crashed service is restarted, but not more often than this within a minute.
MAX_RESTARTS_PER_MINUTE = 5


class Stop(Exception):
    """Raised by the signal handlers so every step unwinds through its ``finally``."""


def _raise_stop(signum: int, _: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def up(traces: bool = False) -> int:
    """Start everything, wait for readiness, print the URL, supervise until SIGINT/SIGTERM.

    ``traces``: also run the trace viewer (it boots alongside the stack) and send every
    service's spans to it.
    """
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    env = dict(os.environ)
    data_dir = data_dir_from(env)
    stack = EmbeddedStack(stack_config_from(env, data_dir))
    fleet: Fleet | None = None
    viewer: TraceViewer | None = None
    try:
        if traces:
            viewer = TraceViewer(viewer_config(env, data_dir), data_dir / "logs" / "phoenix.log")
            env.update(viewer.config.fleet_env())
        fleet_config = FleetConfig(
            data_dir=data_dir, host=env.get("COAGENT_HOST", "127.0.0.1"), env=env
        )
        check_service_ports(fleet_config)
        if viewer is not None:
            viewer.spawn()  # boots while the stack and the fleet start
        _step("embedded stack (NATS, PostgreSQL, FalkorDB)", stack.start)
        urls = _step("databases and migrations", lambda: prepare_databases(stack))
        username, password = _step(
            "super admin", lambda: bootstrap_admin(data_dir, urls["gateway"])
        )
        _print_admin(username, password)
        fleet = Fleet(fleet_config, stack.endpoints, urls)
        fleet.start()
        fleet.wait_ready(
            on_ready=lambda name, s: console.print(f"  [green]✓[/] {name} ready ({s:.1f}s)")
        )
        if viewer is not None:
            _step("trace viewer (Phoenix)", viewer.wait_ready)
        _print_ready(fleet)
        if viewer is not None:
            console.print(f"  traces: [bold]{viewer.config.url}[/] (Phoenix, project {PROJECT})")
        _supervise(fleet)
    except Stop as stop:
        console.print(f"\n[yellow]{stop}[/] received: stopping…")
    except (StackError, FleetError, DatabaseUnavailable, ConfigurationError) as exc:
        console.print(f"[red]coagent: {exc}[/]")
        return 2
    except ValidationError as exc:
        console.print(f"[red]coagent: configuration error: {exc.errors()[0]['msg']}[/]")
        return 2
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the clean-up
        if fleet is not None:
            fleet.stop()
        stack.stop()
        if viewer is not None:
            viewer.stop()
    console.print("stopped cleanly; data kept in " + str(data_dir))
    return 0


def _step(label: str, action: Callable[[], T]) -> T:
    started = time.monotonic()
    with console.status(f"{label}…"):
        result = action()
    console.print(f"  [green]✓[/] {label} ({time.monotonic() - started:.1f}s)")
    return result


def _print_admin(username: str, password: str | None) -> None:
    if password is not None:
        console.print(
            f"  super admin [bold]{username}[/] created with the generated password "
            f"[bold]{password}[/] (shown once; set COAGENT_ADMIN_PASSWORD to choose it)"
        )
    else:
        console.print(f"  super admin: [bold]{username}[/]")


def _print_ready(fleet: Fleet) -> None:
    console.print(f"\n[bold green]CoAgent is ready:[/] {fleet.gateway_url}")
    console.print(
        f"  API docs: {fleet.gateway_url}/docs · health: {fleet.gateway_url}/api/v1/healthz"
    )
    console.print(f"  logs: {fleet.log_dir}/<service>.log · stop with Ctrl-C")


def _supervise(fleet: Fleet) -> None:
    """Restart a crashed service (bounded), until a signal raises :class:`Stop`."""
    restarts: list[float] = []
    while True:
        time.sleep(0.5)
        for name, code in fleet.exited().items():
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < 60]
            if len(restarts) >= MAX_RESTARTS_PER_MINUTE:
                raise FleetError(f"{name} keeps exiting (last code {code}); see {fleet.log_dir}")
            console.print(f"[yellow]{name} exited with code {code}; restarting[/]")
            restarts.append(now)
            fleet.restart(name)


def status() -> int:
    """Which processes run and whether the gateway reports the fleet healthy."""
    env = dict(os.environ)
    data_dir = data_dir_from(env)
    stack = EmbeddedStack(stack_config_from(env, data_dir))
    for name, state in stack.status().items():
        console.print(f"  {name:<16} {state}")
    live = service_pids(data_dir / "run")
    for spec in SERVICES:
        state = f"running (pid {live[spec.name]})" if spec.name in live else "stopped"
        console.print(f"  {spec.name:<16} {state}")
    url = f"http://{env.get('COAGENT_HOST', '127.0.0.1')}:{env.get('COAGENT_PORT', '8000')}"
    code, body = _get_json(f"{url}/api/v1/healthz")
    console.print(f"  gateway health   {code} {json.dumps(body) if body else ''}")
    return 0 if code == 200 else 1


def _get_json(url: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
    except (urllib.error.URLError, OSError):
        return 0, "gateway not reachable"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``coagent`` command."""
    parser = argparse.ArgumentParser(prog="coagent", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser(
        "up", help="start the embedded stack and the six services (foreground)"
    )
    up_parser.add_argument(
        "--traces",
        action="store_true",
        help="also start the Phoenix trace viewer and send every service's spans to it",
    )
    sub.add_parser("status", help="show what runs and whether the fleet is healthy")
    sub.add_parser("docs", help="regenerate the AsyncAPI documents under docs/events/")
    args = parser.parse_args(argv)
    if args.command == "docs":
        for path in asyncapi.write():
            console.print(f"  wrote {path}")
        sys.exit(0)
    sys.exit(up(traces=args.traces) if args.command == "up" else status())
