"""Thumbnails and metadata for one image. Pure: a path in, bytes and dicts out.

Pillow reads the header and the metadata (lazily: no pixels) and guards the pixel limit; libvips makes the
thumbnails, shrinking while it decodes, so the memory an image needs does not grow with its pixel count (an
8900x8900 PNG: under 150 MB instead of about 1 GB). Pillow makes them for the formats libvips does not read here
or decodes slower (HEIC through pillow-heif, AVIF; see ``_VIPS_FORMATS``).

Each width is decoded once and encoded in every requested format (JPEG, WebP, AVIF). The smallest rendition also
gives the placeholder (a ThumbHash and the dominant colour) and the perceptual hash (dHash) that finds
near-duplicates.
"""

import base64
import functools
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import pillow_heif
import thash
from PIL import ExifTags, Image, ImageCms, ImageOps, UnidentifiedImageError
from PIL.TiffImagePlugin import IFDRational

from smmu.errors import CorruptMediaError, ObjectTooLargeError
from smmu.similar import dhash_hex

# HEIF/HEIC through Pillow (AVIF Pillow reads itself). Its thumbnails are decoded in full, like Pillow's other
# formats: the pixel limit bounds them.
pillow_heif.register_heif_opener()

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
WEBP_QUALITY = 80
#: AVIF at this quality is about the JPEG's visual quality in well under half its bytes (see docs/performance.md).
AVIF_QUALITY = 50
#: The fastest AV1 effort: at thumbnail sizes higher efforts cost 3-30x the time for 5-10 % fewer bytes.
AVIF_EFFORT = 0
#: ThumbHash encodes a picture of at most 100x100; its low frequencies change little below 64 px, and the pure
#: Python encoder's time grows with the pixels.
PLACEHOLDER_SIDE = 64

ImageFormat = Literal["jpeg", "webp", "avif"]
IMAGE_FORMATS: tuple[ImageFormat, ...] = ("jpeg", "webp", "avif")
_CONTENT_TYPES: dict[str, tuple[str, str]] = {
    "jpeg": ("image/jpeg", "jpg"),
    "webp": ("image/webp", "webp"),
    "avif": ("image/avif", "avif"),
}


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    content_type: str
    extension: str
    data: bytes
    #: The first format of the request that can carry the picture (JPEG; WebP for one with transparency): the
    #: ``thumbnail`` every client can show. The others are variants of the same pixels.
    primary: bool = True


@dataclass(frozen=True)
class Fingerprint:
    """What a client paints before any download, and what finds the picture's near-duplicates."""

    #: ThumbHash (base64): a ~25-byte blurred preview with the picture's aspect ratio (and alpha).
    thumbhash: str
    #: The most common colour, as #rrggbb.
    dominant_color: str
    #: dHash of rows and columns (128 bits, hex): near-duplicates differ in few bits (see smmu/similar.py).
    perceptual_hash: str


@dataclass(frozen=True)
class ProcessedImage:
    metadata: dict[str, Any]
    renditions: list[Rendition]
    fingerprint: Fingerprint


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


def _exif_fields(image: Image.Image, keep_location: bool) -> dict[str, Any]:
    exif = _exif(image)
    merged = {**dict(exif), **dict(exif.get_ifd(ExifTags.IFD.Exif))}
    fields: dict[str, Any] = {}
    for tag_id, value in merged.items():
        name = ExifTags.TAGS.get(tag_id)
        if name in _EXIF_FIELDS:
            cleaned = _json_value(value)
            if cleaned not in (None, "", []):
                fields[name] = cleaned
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    if gps:
        fields["HasGPS"] = True
        location = _location(gps) if keep_location else None
        if location:
            fields["Location"] = location
    return fields


def _location(gps: dict[int, Any]) -> dict[str, float] | None:
    """Latitude and longitude in degrees from the GPS IFD; None when they are missing or malformed."""

    def degrees(value: Any, ref: Any, negative: str) -> float:
        d, m, s = (float(part) for part in value)
        sign = -1.0 if str(ref).strip("\x00 ").upper() == negative else 1.0
        return round(sign * (d + m / 60 + s / 3600), 7)

    try:
        return {
            "latitude": degrees(gps[ExifTags.GPS.GPSLatitude], gps.get(ExifTags.GPS.GPSLatitudeRef, "N"), "S"),
            "longitude": degrees(gps[ExifTags.GPS.GPSLongitude], gps.get(ExifTags.GPS.GPSLongitudeRef, "E"), "W"),
        }
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


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
    path: Path,
    max_pixels: int,
    widths: tuple[int, ...],
    formats: tuple[ImageFormat, ...] = IMAGE_FORMATS,
    *,
    keep_location: bool = False,
) -> ProcessedImage:
    """Metadata, thumbnails and fingerprint of the image at ``path``. Whatever the decoder cannot read is
    CorruptMediaError: metadata (EXIF, text chunks) is read lazily, so a truncated or hostile file can fail anywhere
    in here."""
    with open_image(path, max_pixels) as image:
        try:
            metadata = describe(image, keep_location=keep_location)
            renditions, fingerprint = _thumbnails(image, widths, formats)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise CorruptMediaError(f"the image data is truncated or corrupt ({exc})") from exc
    return ProcessedImage(metadata, renditions, fingerprint)


def describe(image: Image.Image, *, keep_location: bool = False) -> dict[str, Any]:
    """Metadata of the image as a person sees it (width and height after EXIF orientation). GPS coordinates only
    with ``keep_location``; otherwise only that the original had them (``exif.HasGPS``)."""
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
        "exif": _exif_fields(image, keep_location),
    }


def make_thumbnails(
    image: Image.Image, widths: tuple[int, ...], formats: tuple[ImageFormat, ...] = IMAGE_FORMATS
) -> list[Rendition]:
    """Renditions per requested width, never wider than the source (a small image gets one width, its own), one
    per format; see ``_thumbnails``."""
    return _thumbnails(image, widths, formats)[0]


def _output_formats(formats: tuple[ImageFormat, ...], alpha: bool) -> list[ImageFormat]:
    """The formats to write, the primary first. JPEG cannot carry transparency: such a picture gets the others
    (WebP at least)."""
    chosen = list(dict.fromkeys(formats)) or ["jpeg"]
    if alpha:
        chosen = [f for f in chosen if f != "jpeg"] or ["webp"]
    return chosen


def _thumbnails(
    image: Image.Image, widths: tuple[int, ...], formats: tuple[ImageFormat, ...]
) -> tuple[list[Rendition], Fingerprint]:
    """EXIF orientation is applied to the pixels, colours are converted to sRGB, and no metadata (EXIF, XMP, ICC,
    GPS) is copied into the outputs. Formats libvips reads are shrunk while they are decoded (a streaming,
    shrink-on-load thumbnail: the full-size picture is never in memory); the rest go through Pillow. Every
    format of a width is encoded from the same pixels.
    """
    meta_width = describe(image)["width"]
    targets = sorted({w for w in widths if w <= meta_width} or {meta_width}, reverse=True)
    alpha = _has_alpha(image)
    chosen = _output_formats(formats, alpha)
    filename = _filename(image)
    if image.format in _VIPS_FORMATS and filename and _libvips() is not None:
        renditions, smallest = _vips_thumbnails(Path(filename), targets, alpha, chosen)
    else:
        renditions, smallest = _pillow_thumbnails(image, targets, meta_width, alpha, chosen)
    order = {_CONTENT_TYPES[f][0]: i for i, f in enumerate(chosen)}
    renditions.sort(key=lambda r: (r.width, order[r.content_type]))
    return renditions, fingerprint(smallest)


def fingerprint(picture: Image.Image) -> Fingerprint:
    """ThumbHash, dominant colour and dHash of an upright picture (any size: it is shrunk first)."""
    small = picture.convert("RGBA") if picture.mode != "RGBA" else picture.copy()
    small.thumbnail((PLACEHOLDER_SIDE, PLACEHOLDER_SIDE), Image.Resampling.BILINEAR)
    # With its alpha: a logo's placeholder is transparent where the logo is, so a page shows its own background.
    hashed = bytes(thash.rgba_to_thumb_hash(small.width, small.height, list(small.tobytes())))
    return Fingerprint(
        thumbhash=base64.b64encode(hashed).decode(),
        dominant_color=dominant_color(small),
        perceptual_hash=dhash_hex(small),
    )


def dominant_color(picture: Image.Image) -> str:
    """The centre of the largest of a few colour clusters (median cut) of the opaque pixels, as #rrggbb: the
    colour a person would name, which an average of a red and a blue picture is not."""
    rgba = picture.convert("RGBA")
    opaque = [(r, g, b) for r, g, b, a in zip(*(iter(rgba.tobytes()),) * 4, strict=True) if a >= 128]
    if not opaque:
        return "#000000"
    strip = Image.new("RGB", (len(opaque), 1))
    strip.putdata(opaque)
    quantized = strip.quantize(colors=6, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or []
    counts: list[tuple[int, int]] = quantized.getcolors() or [(1, 0)]  # type: ignore[assignment]
    _count, index = max(counts)
    r, g, b = palette[3 * index : 3 * index + 3]
    return f"#{r:02x}{g:02x}{b:02x}"


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

#: Formats whose libvips loader streams (and, for JPEG and WebP, shrinks while decoding). HEIC and AVIF go to
#: Pillow: this libvips has no HEVC decoder, and its AV1 decoder (aom) took 234 ms where Pillow's (dav1d) took
#: 12 ms for a 640x427 AVIF (docs/performance.md).
_VIPS_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "TIFF"})


def _vips_encoders(pyvips: Any) -> dict[str, Callable[[Any], bytes]]:
    return {
        "jpeg": lambda im: im.jpegsave_buffer(Q=JPEG_QUALITY, optimize_coding=True, interlace=True, keep="none"),
        "webp": lambda im: im.webpsave_buffer(Q=WEBP_QUALITY, keep="none"),
        "avif": lambda im: im.heifsave_buffer(
            compression="av1", Q=AVIF_QUALITY, effort=AVIF_EFFORT, bitdepth=8, keep="none"
        ),
    }


def _vips_thumbnails(
    path: Path, targets: list[int], alpha: bool, formats: list[ImageFormat]
) -> tuple[list[Rendition], Image.Image]:
    pyvips = _libvips()
    encoders = _vips_encoders(pyvips)
    try:
        # The largest rendition straight from the file; each smaller one from the one before (cheap, as sharp).
        source = pyvips.Image.thumbnail(str(path), targets[0], height=_MAX_SIDE, fail_on="truncated")
        source = source.copy_memory()  # decode now (at most 640 px wide), so a bad file fails here
        if source.interpretation not in ("srgb", "b-w") or source.format != "uchar":
            source = source.colourspace("srgb").cast("uchar")  # 16-bit PNGs, CMYK TIFFs: 8-bit sRGB for encoders
        if not alpha and source.hasalpha():  # a GIF without transparency still decodes with an alpha band
            source = source.flatten(background=[255] * (source.bands - 1))
        renditions = []
        for width in targets:
            height = max(1, round(source.height * width / source.width))
            resized = source if source.width == width else source.thumbnail_image(width, height=height, size="force")
            for i, fmt in enumerate(formats):
                content_type, extension = _CONTENT_TYPES[fmt]
                data = encoders[fmt](resized)
                renditions.append(Rendition(width, resized.height, content_type, extension, data, primary=i == 0))
            source = resized
        smallest = _vips_to_pillow(source)
    except pyvips.Error as exc:
        reason = " ".join(str(exc).split())
        raise CorruptMediaError(f"the image data is truncated or corrupt ({reason})") from exc
    return renditions, smallest


def _vips_to_pillow(image: Any) -> Image.Image:
    """A (small) libvips image as a Pillow image, for the fingerprint."""
    if image.bands in (1, 2):
        image = image.colourspace("srgb")
    mode = "RGBA" if image.bands == 4 else "RGB"
    return Image.frombytes(mode, (image.width, image.height), image.write_to_memory())


#: "No limit" for the thumbnail's height: only the width is asked for.
_MAX_SIDE = 10_000_000


_PILLOW_SAVE: dict[str, tuple[str, dict[str, Any]]] = {
    "jpeg": ("JPEG", {"quality": JPEG_QUALITY, "optimize": True, "progressive": True}),
    "webp": ("WEBP", {"quality": WEBP_QUALITY}),
    # Pillow's speed 9 is libvips' effort 0: the fastest AV1 encoder settings.
    "avif": ("AVIF", {"quality": AVIF_QUALITY, "speed": 10 - AVIF_EFFORT - 1}),
}


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Pixels in another colour space (a phone's Display P3) converted to sRGB, which is what a browser assumes
    of an image without a profile; an unreadable profile leaves them as they are."""
    if not icc:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=image.mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    return converted if converted is not None else image


def _pillow_thumbnails(
    image: Image.Image, targets: list[int], meta_width: int, alpha: bool, formats: list[ImageFormat]
) -> tuple[list[Rendition], Image.Image]:
    if image.format == "JPEG":
        # Let libjpeg decode at a reduced scale when even the largest target is much smaller than the source.
        scale = targets[0] / meta_width
        image.draft("RGB", (max(1, int(image.width * scale)), max(1, int(image.height * scale))))
    icc = image.info.get("icc_profile")
    try:
        image.seek(0)
        image.load()
        # exif_transpose copies the picture even when there is nothing to turn (a 12 MP photo: 0.1 s per copy).
        turned = _exif(image).get(ExifTags.Base.Orientation, 1) not in (None, 1)
        upright = ImageOps.exif_transpose(image) if turned else image
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptMediaError(f"the image data is truncated or corrupt ({exc})") from exc
    mode = "RGBA" if alpha else "RGB"
    upright = upright.convert(mode) if upright.mode != mode else upright.copy()
    # No EXIF, XMP or profile may ride along into an output (some encoders copy what ``info`` holds).
    upright.info = {}
    renditions = []
    source = upright
    for number, width in enumerate(targets):  # largest first, each from the previous: cheaper and as sharp
        height = max(1, round(upright.height * width / upright.width))
        resized = (
            source
            if source.width == width
            else source.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=2.0)
        )
        if number == 0:
            resized = _to_srgb(resized, icc)
        resized.info = {}
        for i, fmt in enumerate(formats):
            content_type, extension = _CONTENT_TYPES[fmt]
            pillow_format, options = _PILLOW_SAVE[fmt]
            buffer = io.BytesIO()
            resized.save(buffer, pillow_format, **options)
            renditions.append(Rendition(width, resized.height, content_type, extension, buffer.getvalue(), i == 0))
        source = resized
    return renditions, source
