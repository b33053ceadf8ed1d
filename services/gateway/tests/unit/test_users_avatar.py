"""Avatar upload: real images only, re-encoded, served safely (F10: stored XSS via upload)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from coagent_gateway.settings import GatewaySettings
from coagent_gateway.users.avatars import MAX_BYTES, MAX_SIDE

from ..conftest import AuthKit
from .users_kit import UsersWorld, users_world


@pytest.fixture
async def world(
    settings: GatewaySettings, auth: AuthKit, tmp_path: Path
) -> AsyncIterator[UsersWorld]:
    async with users_world(settings, auth, tmp_path) as w:
        yield w


def _image(fmt: str, size: tuple[int, int] = (64, 48), **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt, **save)
    return out.getvalue()


def _jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (1.0, 2.0, 3.0)}  # GPS info
    return _image("JPEG", exif=exif.tobytes())


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
async def test_accepted_formats_are_reencoded_as_png(world: UsersWorld, fmt: str) -> None:
    client = await world.login(world.student)
    response = await client.post(
        "/api/v1/users/me/avatar",
        files={"file": ("me.bin", _image(fmt), "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    url = response.json()["avatar_url"]
    assert url.startswith("/static/avatars/")
    assert url.endswith(".png")
    served = await client.get(url)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert Image.open(io.BytesIO(served.content)).format == "PNG"
    me = (await client.get("/api/v1/users/me")).json()
    assert me["avatar_url"] == url


async def test_metadata_is_stripped(world: UsersWorld) -> None:
    client = await world.login(world.student)
    response = await client.post(
        "/api/v1/users/me/avatar", files={"file": ("me.jpg", _jpeg_with_exif(), "image/jpeg")}
    )
    served = await client.get(response.json()["avatar_url"])
    assert b"SecretCam" not in served.content
    image = Image.open(io.BytesIO(served.content))
    assert not image.getexif()
    assert "exif" not in image.info


@pytest.mark.parametrize(
    ("payload", "filename", "declared"),
    [
        (b"<html><script>alert(1)</script></html>", "x.html", "image/png"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "x.svg", "image/png"),
        (_image("GIF"), "x.gif", "image/png"),
        (_image("BMP"), "x.png", "image/png"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, "x.png", "image/png"),
        (b"", "x.png", "image/png"),
    ],
)
async def test_anything_but_a_real_image_is_refused(
    world: UsersWorld, payload: bytes, filename: str, declared: str
) -> None:
    """F10: the declared type and file name decide nothing; the content does."""
    client = await world.login(world.student)
    response = await client.post(
        "/api/v1/users/me/avatar", files={"file": (filename, payload, declared)}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_image"
    assert (
        list(world.media.avatars_dir.glob("*")) == [] if world.media.avatars_dir.exists() else True
    )


async def test_too_large_files_and_huge_bitmaps_are_refused(world: UsersWorld) -> None:
    client = await world.login(world.student)
    big = await client.post(
        "/api/v1/users/me/avatar",
        files={"file": ("big.png", b"\0" * (MAX_BYTES + 10), "image/png")},
    )
    assert big.status_code == 413
    assert big.json()["code"] == "file_too_large"
    bomb = _image("PNG", size=(6000, 6000), optimize=True)
    assert len(bomb) < MAX_BYTES
    refused = await client.post(
        "/api/v1/users/me/avatar", files={"file": ("b.png", bomb, "image/png")}
    )
    assert refused.status_code == 422


async def test_large_images_are_scaled_down(world: UsersWorld) -> None:
    client = await world.login(world.student)
    response = await client.post(
        "/api/v1/users/me/avatar",
        files={"file": ("me.png", _image("PNG", (2000, 1000)), "image/png")},
    )
    served = await client.get(response.json()["avatar_url"])
    assert max(Image.open(io.BytesIO(served.content)).size) == MAX_SIDE


async def test_the_old_file_is_removed_and_clearing_works(world: UsersWorld) -> None:
    client = await world.login(world.student)
    first = (
        await client.post(
            "/api/v1/users/me/avatar", files={"file": ("a.png", _image("PNG"), "image/png")}
        )
    ).json()["avatar_url"]
    second = (
        await client.post(
            "/api/v1/users/me/avatar", files={"file": ("b.png", _image("PNG"), "image/png")}
        )
    ).json()["avatar_url"]
    assert first != second
    assert (await client.get(first)).status_code == 404
    kept = await client.put("/api/v1/users/me", json={"full_name": "S", "avatar_url": second})
    assert kept.json()["avatar_url"] == second
    cleared = await client.put("/api/v1/users/me", json={"full_name": "S", "avatar_url": None})
    assert cleared.json()["avatar_url"] is None
    assert (await client.get(second)).status_code == 404


async def test_static_route_only_serves_stored_names(world: UsersWorld) -> None:
    client = world.anonymous()
    for name in ("..%2F..%2Fetc%2Fpasswd", "x.html", "0" * 32 + ".svg", "0" * 32 + ".png"):
        assert (await client.get(f"/static/avatars/{name}")).status_code == 404


async def test_upload_needs_a_session(world: UsersWorld) -> None:
    response = await world.anonymous().post(
        "/api/v1/users/me/avatar", files={"file": ("a.png", _image("PNG"), "image/png")}
    )
    assert response.status_code == 401
