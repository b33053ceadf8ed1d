"""Avatar images: only real PNG, JPEG or WebP, decoded and re-encoded without metadata."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps

from coagent_gateway.users.domain import FileTooLarge, InvalidImage

MAX_BYTES = 2 * 1024 * 1024
#: Checked from the header before decoding, so a small file cannot expand into a huge bitmap.
MAX_PIXELS = 20_000_000
#: Avatars are small on screen; storing more only costs space.
MAX_SIDE = 512
ACCEPTED_FORMATS = frozenset({"PNG", "JPEG", "WEBP"})
OUTPUT_EXT = "png"
OUTPUT_CONTENT_TYPE = "image/png"


def normalise_avatar(data: bytes) -> bytes:
    """A clean PNG of at most ``MAX_SIDE`` pixels a side, from an accepted image.

    The format is decided by decoding the content, never by a declared type or file name, and
    the output is rebuilt from raw pixels, so no metadata (EXIF, text chunks, profiles) survives.
    """
    if len(data) > MAX_BYTES:
        raise FileTooLarge(f"The image exceeds {MAX_BYTES // (1024 * 1024)} MiB")
    if not data:
        raise InvalidImage("The file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=sorted(ACCEPTED_FORMATS)) as image:
                if image.format not in ACCEPTED_FORMATS:
                    raise InvalidImage("Only PNG, JPEG or WebP images are accepted")
                width, height = image.size
                if width < 1 or height < 1 or width * height > MAX_PIXELS:
                    raise InvalidImage("The image has too many pixels")
                image.load()
                upright = ImageOps.exif_transpose(image)
                mode = (
                    "RGBA" if "A" in upright.getbands() or "transparency" in image.info else "RGB"
                )
                pixels = upright.convert(mode)
    except InvalidImage:
        raise
    except Exception as exc:  # any decoder failure on untrusted bytes means "refuse"
        raise InvalidImage("Only PNG, JPEG or WebP images are accepted") from exc
    clean = Image.frombytes(mode, pixels.size, pixels.tobytes())
    clean.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=True)
    return out.getvalue()
