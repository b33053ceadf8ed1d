"""Shutdown steps with a deadline each, and a record of what was still running past it.

A service that is told to stop must stop: Kubernetes kills it after its grace period anyway,
and a test fixture that never returns hangs the whole suite. A step that overruns its deadline
is cancelled, and the tasks still pending at that moment are logged with the line each one is
waiting on, so the cause can be found from the log alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from coagent_kit.logging import get_logger

log = get_logger(__name__)

#: Frames listed per pending task in the record of an overrun step.
_FRAMES_PER_TASK = 3


async def run_step(step: str, awaitable: Awaitable[object], deadline_s: float) -> bool:
    """Await ``awaitable`` for at most ``deadline_s``; True when it finished in time.

    An overrun is logged (``shutdown_step_overran``) with every other pending task of the loop
    and where it waits, then the step is cancelled and the caller goes on with the next one. An
    exception of the step is logged too: one failing step must not keep the others from running.
    """
    try:
        async with asyncio.timeout(deadline_s):
            await awaitable
    except TimeoutError:
        log.error(
            "shutdown_step_overran", step=step, deadline_s=deadline_s, pending=pending_tasks()
        )
        return False
    except Exception:
        log.exception("shutdown_step_failed", step=step)
        return False
    return True


def pending_tasks() -> list[str]:
    """Each pending task of the running loop but the caller, with the lines it waits on."""
    current = asyncio.current_task()
    described = []
    for task in asyncio.all_tasks():
        if task is current or task.done():
            continue
        frames = task.get_stack(limit=_FRAMES_PER_TASK)
        where = " <- ".join(
            f"{frame.f_code.co_qualname}:{frame.f_lineno}" for frame in reversed(frames)
        )
        described.append(f"{task.get_name()}: {where or '?'}")
    return sorted(described)
