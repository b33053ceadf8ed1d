"""``python -m bench.graphrag``: the GraphRAG evaluation harness (see bench/README.md)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from dataclasses import replace

from bench._common import save
from bench.graphrag.run import QUICK, Config, run
from bench.graphrag.stores import STORE_KINDS

_OPTIONS = (
    "rooms",
    "messages_per_room",
    "facts_per_room",
    "batch",
    "ks",
    "store",
    "seed",
    "chunk_chars",
)


def _ks(text: str) -> tuple[int, ...]:
    values = tuple(sorted({int(v) for v in text.split(",") if v.strip()}))
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError("k values are positive integers, e.g. 1,3,6")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.graphrag", description=__doc__)
    defaults = Config()
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK.rooms} rooms x {QUICK.messages_per_room} messages",
    )
    parser.add_argument("--rooms", type=int)
    parser.add_argument("--messages-per-room", type=int)
    parser.add_argument("--facts-per-room", type=int)
    parser.add_argument("--batch", type=int, help=f"messages per ingest pass ({defaults.batch})")
    parser.add_argument("--ks", type=_ks, help="recall cut-offs, e.g. 1,3,6")
    parser.add_argument(
        "--store", choices=STORE_KINDS, help=f"graph and vector store ({defaults.store})"
    )
    parser.add_argument(
        "--chunk-chars",
        type=int,
        help=f"characters per chunk ({defaults.chunk_chars}, the service's)",
    )
    parser.add_argument("--seed", type=int)  # fmt: skip
    args = parser.parse_args()
    config = QUICK if args.quick else defaults
    overrides = {name: value for name in _OPTIONS if (value := getattr(args, name)) is not None}
    config = replace(config, **overrides)
    if config.rooms < 1 or config.messages_per_room < 1 or config.batch < 1:
        parser.error("--rooms, --messages-per-room and --batch must be at least 1")
    # A terminated run still stops the FalkorDB server it started (``finally`` blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        figures = asyncio.run(run(config))
    except ValueError as exc:
        parser.error(str(exc))
    save("graphrag", figures)


if __name__ == "__main__":
    main()
