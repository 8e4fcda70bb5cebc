"""Real media files for tests, generated on the fly."""

import io
from pathlib import Path

import pillow_heif
from PIL import Image

# The tests open the HEIC fixtures themselves too (to make copies, to read their EXIF).
pillow_heif.register_heif_opener()


def jpeg(
    width: int = 1200,
    height: int = 800,
    *,
    orientation: int | None = None,
    make: str | None = None,
    gps: bool = False,
    color: tuple[int, int, int] = (200, 40, 40),
) -> bytes:
    image = Image.new("RGB", (width, height), color)
    # A marker in the top-left corner lets a test check that orientation was applied.
    image.paste((0, 0, 255), (0, 0, width // 4, height // 4))
    exif = image.getexif()
    if orientation:
        exif[0x0112] = orientation
    if make:
        exif[0x010F] = make
    if gps:
        exif[0x8825] = {1: "N", 2: (52.0, 22.0, 0.0)}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def png_with_alpha(width: int = 500, height: int = 300) -> bytes:
    image = Image.new("RGBA", (width, height), (0, 128, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, width // 2, height))  # left half fully transparent
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def wav(seconds: float = 0.5, rate: int = 8000) -> bytes:
    import math
    import struct
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = int(seconds * rate)
        out.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 10))) for i in range(frames)))
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# Hostile and extreme images live with the benchmarks' media; the tests use them from there.
from smmu_stack.devkit.image_media import big_jpeg, big_png, long_gif, png_with_ztxt_bomb, truncated  # noqa: E402, F401

#: Real photos (see the README there for their sources and licences).
FIXTURES = Path(__file__).parent / "fixtures" / "images"


def photo_file(name: str) -> bytes:
    """A real photo from tests/fixtures/images (see its README for where each comes from)."""
    return (FIXTURES / name).read_bytes()
