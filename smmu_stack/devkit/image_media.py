"""Images at the edges, made on the spot with Pillow: truncated files, a zTXt bomb, many pixels in few bytes,
thousands of GIF frames. Shared by the tests and bench/reliability.py."""

import io

from PIL import Image


def flat(width: int, height: int, fmt: str = "JPEG", colour: tuple[int, ...] = (90, 30, 200)) -> bytes:
    """A one-colour picture (``RGBA`` colours make an image with an alpha channel)."""
    buffer = io.BytesIO()
    Image.new("RGBA" if len(colour) == 4 else "RGB", (width, height), colour).save(buffer, fmt)
    return buffer.getvalue()


def truncated(data: bytes) -> bytes:
    """The first half of a file: its header parses, its data ends early."""
    return data[: len(data) // 2]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_with_ztxt_bomb(inflated_bytes: int = 20 * 1024 * 1024) -> bytes:
    """A small valid PNG with a zTXt chunk that inflates to ``inflated_bytes`` (a few KB on disk)."""
    import zlib

    plain = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 120, 200)).save(plain, "PNG")
    data = plain.getvalue()
    bomb = _png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"\x00" * inflated_bytes, 9))
    return data[:33] + bomb + data[33:]  # after the signature (8) and IHDR (25)


def big_png(width: int = 8900, height: int = 8900) -> bytes:
    """A large RGBA PNG that compresses to little (flat colour): many pixels, few bytes."""
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (30, 90, 160, 255)).save(buffer, "PNG", compress_level=9)
    return buffer.getvalue()


def big_jpeg(width: int = 10000, height: int = 7900) -> bytes:
    """A large JPEG (79 Mpx): a flat picture with a block of detail."""
    image = Image.new("RGB", (width, height), (200, 180, 40))
    image.paste((20, 20, 200), (0, 0, width // 3, height // 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def long_gif(frames: int = 5000, size: int = 64) -> bytes:
    """An animated GIF of many small frames."""
    pictures = []
    for i in range(frames):  # a square moving across: every frame differs, so none is merged away
        picture = Image.new("P", (size, size), 0)
        offset = i % (size - 8)
        picture.paste(1 + i % 200, (offset, offset, offset + 8, offset + 8))
        pictures.append(picture)
    buffer = io.BytesIO()
    pictures[0].save(buffer, "GIF", save_all=True, append_images=pictures[1:], duration=20, loop=0)
    return buffer.getvalue()
