"""Avatar files on the local disk, under ``<media dir>/avatars``, named by random ids."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import anyio

from coagent_gateway.users.domain import avatar_name

AVATAR_PREFIX = "/static/avatars/"
#: Only names we generate are ever resolved, so a request cannot walk out of the directory.
STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(?:png|webp)$")


class LocalMediaStore:
    """Avatar files in a directory served by the gateway at ``/static/avatars/``."""

    def __init__(self, root: Path) -> None:
        self.avatars_dir = root / "avatars"

    async def save(self, data: bytes, ext: str) -> str:
        name = f"{uuid.uuid4().hex}.{ext}"
        if not STORED_NAME.match(name):
            raise ValueError(f"Unsupported avatar extension: {ext!r}")
        await anyio.to_thread.run_sync(self._write, name, data)
        return AVATAR_PREFIX + name

    def _write(self, name: str, data: bytes) -> None:
        self.avatars_dir.mkdir(parents=True, exist_ok=True)
        partial = self.avatars_dir / f".{name}.part"
        partial.write_bytes(data)
        partial.replace(self.avatars_dir / name)

    async def delete(self, url: str) -> None:
        name = avatar_name(url)
        if name is not None:
            await anyio.to_thread.run_sync(self._unlink, name)

    def _unlink(self, name: str) -> None:
        (self.avatars_dir / name).unlink(missing_ok=True)

    def path_of(self, name: str) -> Path | None:
        if not STORED_NAME.match(name):
            return None
        path = self.avatars_dir / name
        return path if path.is_file() else None
