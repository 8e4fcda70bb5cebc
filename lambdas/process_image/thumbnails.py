"""Thumbnails and metadata for one image, with Pillow. Pure: a path in, bytes and dicts out."""

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


def _exif_fields(image: Image.Image) -> dict[str, Any]:
    exif = image.getexif()
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
    orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    width, height = image.size
    if orientation in _ROTATED_ORIENTATIONS:
        width, height = height, width
    return {
        "width": width,
        "height": height,
        "format": image.format,
        "mode": image.mode,
        "has_alpha": _has_alpha(image),
        "frames": getattr(image, "n_frames", 1),
        "exif": _exif_fields(image),
    }


def make_thumbnails(image: Image.Image, widths: tuple[int, ...]) -> list[Rendition]:
    """One rendition per requested width, never wider than the source (a small image gets one, at its width).

    EXIF orientation is applied to the pixels and EXIF is not copied into the outputs. Images with transparency
    become WebP (keeping alpha); the rest become JPEG.
    """
    meta_width = describe(image)["width"]
    targets = sorted({w for w in widths if w <= meta_width} or {meta_width}, reverse=True)
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
    alpha = _has_alpha(upright)
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
