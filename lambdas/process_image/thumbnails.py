"""Thumbnails and metadata for one image. Pure: a path in, bytes and dicts out.

Pillow reads the header and the metadata (lazily: no pixels) and guards the pixel limit; libvips makes the
thumbnails, shrinking while it decodes, so the memory an image needs does not grow with its pixel count (an
8900x8900 PNG: under 150 MB instead of about 1 GB). Pillow makes them for the formats libvips does not read here.
"""

import functools
import io
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
from PIL.TiffImagePlugin import IFDRational

from smmu.errors import CorruptMediaError, ObjectTooLargeError

#: EXIF fields worth keeping as metadata. GPS coordinates are deliberately not copied (privacy): only whether
#: the original carried them.
_EXIF_FIELDS = (
    "Make",
    "Model",
    "Software",
    "DateTime",
    "DateTimeOriginal",
    "Orientation",
    "LensModel",
    "ExposureTime",
    "FNumber",
    "ISOSpeedRatings",
    "FocalLength",
)
_ROTATED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height
JPEG_QUALITY = 85
WEBP_QUALITY = 85


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    content_type: str
    extension: str
    data: bytes


def _json_value(value: Any) -> Any:
    if isinstance(value, Fraction | IFDRational):  # exposure times, apertures: rationals
        return round(float(value), 6)
    if isinstance(value, bytes):
        return None
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, str):
        return value.strip("\x00 ").strip()
    return value


def _exif(image: Image.Image) -> Image.Exif:
    if image.format == "PNG":
        # Pillow's PNG getexif() decodes every pixel to look for an eXIf chunk after the image data (an 8900x8900
        # PNG: 300 MB and seconds); an eXIf chunk before the data, the usual place, is already in the header.
        exif = Image.Exif()
        if "exif" in image.info:
            exif.load(image.info["exif"])
        return exif
    return image.getexif()


def _frames(image: Image.Image) -> int:
    filename = _filename(image)
    if image.format == "GIF" and filename:
        # Pillow counts a GIF's frames by decoding them all; libvips reads the count from the file's structure.
        pyvips = _libvips()
        if pyvips is None:
            return getattr(image, "n_frames", 1)
        header = pyvips.Image.new_from_file(filename, access="sequential")
        return int(header.get("n-pages")) if header.get_typeof("n-pages") else 1
    return getattr(image, "n_frames", 1)


def _exif_fields(image: Image.Image) -> dict[str, Any]:
    exif = _exif(image)
    merged = {**dict(exif), **dict(exif.get_ifd(ExifTags.IFD.Exif))}
    fields: dict[str, Any] = {}
    for tag_id, value in merged.items():
        name = ExifTags.TAGS.get(tag_id)
        if name in _EXIF_FIELDS:
            cleaned = _json_value(value)
            if cleaned not in (None, "", []):
                fields[name] = cleaned
    if exif.get_ifd(ExifTags.IFD.GPSInfo):
        fields["HasGPS"] = True
    return fields


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa") or (image.mode == "P" and "transparency" in image.info)


def open_image(path: Path, max_pixels: int) -> Image.Image:
    """Open an image, refusing decompression bombs and naming what is wrong with unreadable files."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():  # between 1x and 2x the limit Pillow only warns; we refuse below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
        if image.width * image.height > max_pixels:
            raise ObjectTooLargeError(
                f"the image is {image.width}x{image.height} pixels, over the {max_pixels} pixel limit"
            )
        return image
    except Image.DecompressionBombError as exc:
        # Pillow refuses outright at twice its limit, before the size is known to us.
        raise ObjectTooLargeError(f"the image is over the {max_pixels} pixel limit ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise CorruptMediaError("the image data cannot be read as any image format") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # A header that parses but lies (a text chunk inflating past Pillow's limit, a cut-off chunk).
        raise CorruptMediaError(f"the image data is truncated or corrupt ({exc})") from exc


def thumbnails_and_metadata(
    path: Path, max_pixels: int, widths: tuple[int, ...]
) -> tuple[dict[str, Any], list[Rendition]]:
    """Metadata and thumbnails of the image at ``path``. Whatever the decoder cannot read is CorruptMediaError:
    metadata (EXIF, text chunks) is read lazily, so a truncated or hostile file can fail anywhere in here."""
    with open_image(path, max_pixels) as image:
        try:
            return describe(image), make_thumbnails(image, widths)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise CorruptMediaError(f"the image data is truncated or corrupt ({exc})") from exc


def describe(image: Image.Image) -> dict[str, Any]:
    """Metadata of the image as a person sees it (width and height after EXIF orientation)."""
    orientation = _exif(image).get(ExifTags.Base.Orientation, 1)
    width, height = image.size
    if orientation in _ROTATED_ORIENTATIONS:
        width, height = height, width
    return {
        "width": width,
        "height": height,
        "format": image.format,
        "mode": image.mode,
        "has_alpha": _has_alpha(image),
        "frames": _frames(image),
        "exif": _exif_fields(image),
    }


def make_thumbnails(image: Image.Image, widths: tuple[int, ...]) -> list[Rendition]:
    """One rendition per requested width, never wider than the source (a small image gets one, at its width).

    EXIF orientation is applied to the pixels and EXIF is not copied into the outputs. Images with transparency
    become WebP (keeping alpha); the rest become JPEG. Formats libvips reads are shrunk while they are decoded
    (a streaming, shrink-on-load thumbnail: the full-size picture is never in memory); the rest go through
    Pillow.
    """
    meta_width = describe(image)["width"]
    targets = sorted({w for w in widths if w <= meta_width} or {meta_width}, reverse=True)
    alpha = _has_alpha(image)
    filename = _filename(image)
    if image.format in _VIPS_FORMATS and filename and _libvips() is not None:
        return _vips_thumbnails(Path(filename), targets, alpha)
    return _pillow_thumbnails(image, targets, meta_width, alpha)


def _filename(image: Image.Image) -> str | None:
    """The file an image was opened from (libvips reads it again itself); None for one made in memory."""
    name = getattr(image, "filename", None)
    return name if isinstance(name, str) and name else None


@functools.cache
def _libvips() -> Any:
    """pyvips, or None where libvips cannot load: its wheels need glibc 2.28, which Lambda's python3.11 runtime
    (Amazon Linux 2, glibc 2.26) lacks. There Pillow makes the thumbnails, and a large PNG needs its full size
    in memory again (see docs/reliability.md)."""
    try:
        import pyvips
    except (ImportError, OSError):
        return None
    # No operation cache: a warm function would otherwise keep earlier images' pixels between invocations.
    pyvips.cache_set_max(0)
    return pyvips


# Loaded with the module, i.e. during the function's cold start, not inside its first invocation.
_libvips()

#: Formats whose libvips loader streams (and, for JPEG and WebP, shrinks while decoding).
_VIPS_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "TIFF"})


def _vips_thumbnails(path: Path, targets: list[int], alpha: bool) -> list[Rendition]:
    pyvips = _libvips()
    try:
        # The largest rendition straight from the file; each smaller one from the one before (cheap, as sharp).
        source = pyvips.Image.thumbnail(str(path), targets[0], height=_MAX_SIDE, fail_on="truncated")
        source = source.copy_memory()  # decode now (at most 640 px wide), so a bad file fails here
        renditions = []
        for width in targets:
            height = max(1, round(source.height * width / source.width))
            resized = source if source.width == width else source.thumbnail_image(width, height=height, size="force")
            if alpha:
                data = resized.webpsave_buffer(Q=WEBP_QUALITY, keep="none")
                renditions.append(Rendition(width, resized.height, "image/webp", "webp", data))
            else:
                if resized.hasalpha():  # a GIF without transparency still decodes with an alpha band
                    resized = resized.flatten(background=[255, 255, 255])
                data = resized.jpegsave_buffer(Q=JPEG_QUALITY, optimize_coding=True, interlace=True, keep="none")
                renditions.append(Rendition(width, resized.height, "image/jpeg", "jpg", data))
            source = resized
    except pyvips.Error as exc:
        reason = " ".join(str(exc).split())
        raise CorruptMediaError(f"the image data is truncated or corrupt ({reason})") from exc
    return sorted(renditions, key=lambda r: r.width)


#: "No limit" for the thumbnail's height: only the width is asked for.
_MAX_SIDE = 10_000_000


def _pillow_thumbnails(image: Image.Image, targets: list[int], meta_width: int, alpha: bool) -> list[Rendition]:
    if image.format == "JPEG":
        # Let libjpeg decode at a reduced scale when even the largest target is much smaller than the source.
        scale = targets[0] / meta_width
        image.draft("RGB", (max(1, int(image.width * scale)), max(1, int(image.height * scale))))
    try:
        image.seek(0)
        upright = ImageOps.exif_transpose(image)
        upright.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptMediaError(f"the image data is truncated or corrupt ({exc})") from exc
    upright = upright.convert("RGBA" if alpha else "RGB")
    renditions = []
    source = upright
    for width in targets:  # largest first, each from the previous: cheaper and as sharp
        height = max(1, round(upright.height * width / upright.width))
        resized = source if source.width == width else source.resize((width, height), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        if alpha:
            resized.save(buffer, "WEBP", quality=WEBP_QUALITY)
            renditions.append(Rendition(width, resized.height, "image/webp", "webp", buffer.getvalue()))
        else:
            resized.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
            renditions.append(Rendition(width, resized.height, "image/jpeg", "jpg", buffer.getvalue()))
        source = resized
    return sorted(renditions, key=lambda r: r.width)
