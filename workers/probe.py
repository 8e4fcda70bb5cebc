"""ffprobe's description of a media file, normalised into a plain dict for the media table.

``describe`` is pure (ffprobe JSON in, dict out); ``probe`` runs ffprobe (through ``ffmpeg.probe``) and turns
an unreadable or non-media file into CorruptMediaError with a reason a person understands.
"""

from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from smmu.errors import CorruptMediaError
from workers.process import last_line


def _number(value: Any, kind: type = float) -> Any:
    try:
        number = kind(float(value)) if kind is int else float(value)
    except (TypeError, ValueError):
        return None
    return number


def _rate(value: Any) -> float | None:
    """'30000/1001' -> 29.97; '0/0' and nonsense -> None."""
    try:
        rate = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return round(float(rate), 3) if rate > 0 else None


def rotation_of(stream: dict[str, Any]) -> int:
    """Degrees (0, 90, 180, 270) by which the stored picture is turned for display.

    Read from the display matrix side data (FFmpeg >= 5) or the legacy ``rotate`` tag; the sign convention does
    not matter to anything here except 90 vs 270, and both swap width and height.
    """
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            value = _number(side["rotation"])
            if value is not None:
                return round(-value) % 360
    tag = (stream.get("tags") or {}).get("rotate")
    value = _number(tag)
    return round(value) % 360 if value is not None else 0


def _sample_aspect(stream: dict[str, Any]) -> Fraction:
    raw = str(stream.get("sample_aspect_ratio") or "1:1").replace(":", "/")
    try:
        sar = Fraction(raw)
    except (ValueError, ZeroDivisionError):
        return Fraction(1)
    return sar if sar > 0 else Fraction(1)


def _container(fmt: dict[str, Any]) -> str:
    names = str(fmt.get("format_name") or "").split(",")
    brand = str((fmt.get("tags") or {}).get("major_brand") or "").strip()
    if names and names[0] == "mov":
        return "mov" if brand == "qt" else "mp4"
    return names[0] if names else "unknown"


#: Transfer characteristics (ffprobe's names) of HDR video: PQ (HDR10, Dolby Vision's base layer) and HLG.
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})


def _video(stream: dict[str, Any]) -> dict[str, Any]:
    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    rotation = rotation_of(stream)
    sar = _sample_aspect(stream)
    display_width = round(width * sar) if sar != 1 else width
    display_height = height
    if rotation in (90, 270):
        display_width, display_height = display_height, display_width
    return {
        "index": stream.get("index"),
        "codec": stream.get("codec_name"),
        "profile": stream.get("profile"),
        "pix_fmt": stream.get("pix_fmt"),
        "width": display_width,
        "height": display_height,
        "coded_width": width,
        "coded_height": height,
        "sample_aspect_ratio": f"{sar.numerator}:{sar.denominator}",
        "rotation": rotation,
        "fps": _rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate")),
        # Colour: an HDR source (PQ or HLG transfer) is tone-mapped to SDR BT.709 for the outputs.
        "color_transfer": stream.get("color_transfer"),
        "color_primaries": stream.get("color_primaries"),
        "color_space": stream.get("color_space"),
        "hdr": stream.get("color_transfer") in HDR_TRANSFERS,
        "bitrate": _number(stream.get("bit_rate"), int),
        "duration_seconds": _number(stream.get("duration")),
    }


def _audio(stream: dict[str, Any]) -> dict[str, Any]:
    return {
        "index": stream.get("index"),
        "codec": stream.get("codec_name"),
        "profile": stream.get("profile"),
        "channels": _number(stream.get("channels"), int),
        "channel_layout": stream.get("channel_layout"),
        "sample_rate": _number(stream.get("sample_rate"), int),
        "bitrate": _number(stream.get("bit_rate"), int),
        "duration_seconds": _number(stream.get("duration")),
    }


_IMAGE_CODECS = frozenset({"mjpeg", "png", "bmp", "webp", "tiff", "gif", "jpeg2000", "jpegls"})


def _is_picture(stream: dict[str, Any], format_name: str) -> bool:
    """A still picture: cover art in an audio file (attached_pic), or an image file read as one frame."""
    if (stream.get("disposition") or {}).get("attached_pic"):
        return True
    if stream.get("codec_name") not in _IMAGE_CODECS:
        return False  # motion JPEG in AVI/MOV is video: it has a container and many frames
    return stream.get("nb_frames") == "1" or format_name.endswith("_pipe") or format_name == "image2"


#: Demuxers that turn arbitrary bytes (text, binary dumps) into a "video" of rendered characters.
_TEXT_FORMATS = frozenset({"tty", "bin", "xbin", "adf", "idf"})


def describe(info: dict[str, Any]) -> dict[str, Any]:
    """Normalise ffprobe's JSON (``-show_format -show_streams``) into the media table's shape.

    Raises CorruptMediaError when there is no audio or video to process.
    """
    fmt = info.get("format") or {}
    streams = info.get("streams") or []
    if set(str(fmt.get("format_name") or "").split(",")) & _TEXT_FORMATS:
        raise CorruptMediaError("the file is text or binary data, not audio or video")
    format_name = str(fmt.get("format_name") or "")
    videos = [s for s in streams if s.get("codec_type") == "video" and not _is_picture(s, format_name)]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    if not videos and not audios:
        if any(s.get("codec_type") == "video" for s in streams):
            raise CorruptMediaError("the file is a still image, with no audio or video stream")
        raise CorruptMediaError("the file contains no audio or video stream")
    video = _video(videos[0]) if videos else None
    if video is not None and (video["width"] < 1 or video["height"] < 1):
        raise CorruptMediaError("the video stream has no usable picture size")
    audio = _audio(audios[0]) if audios else None
    # The streams' own durations (from their sample tables) over the container header's: a header can claim
    # anything (4,294,967 s for a 3 s clip), and stills and progress are placed by this number.
    durations = [d for d in ((video or {}).get("duration_seconds"), (audio or {}).get("duration_seconds")) if d]
    duration = max(durations) if durations else _number(fmt.get("duration"))
    if not duration or duration <= 0:
        raise CorruptMediaError("the file's duration cannot be determined: it is empty or truncated")
    return {
        "container": _container(fmt),
        "format_name": fmt.get("format_name"),
        "duration_seconds": round(duration, 3),
        "bitrate": _number(fmt.get("bit_rate"), int),
        "size_bytes": _number(fmt.get("size"), int),
        "has_video": video is not None,
        "has_audio": audio is not None,
        "video": video,
        "audio": audio,
        "streams": [
            {
                "index": s.get("index"),
                "type": s.get("codec_type"),
                "codec": s.get("codec_name"),
                **({"language": s["tags"]["language"]} if (s.get("tags") or {}).get("language") else {}),
            }
            for s in streams
        ],
    }


def probe_raw(path: Path) -> dict[str, Any]:
    """ffprobe's JSON for ``path``; CorruptMediaError if ffprobe cannot read it as media at all."""
    try:
        return ffmpeg.probe(str(path), v="error")
    except ffmpeg.Error as exc:
        detail = last_line((exc.stderr or b"").decode("utf-8", "replace"))
        detail = detail.replace(f"{path}: ", "")
        raise CorruptMediaError(
            f"the file cannot be read as audio or video ({detail or 'ffprobe could not parse it'})"
        ) from exc


def probe(path: Path) -> dict[str, Any]:
    return describe(probe_raw(path))
