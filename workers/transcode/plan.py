"""What to make from a source: the rendition ladder, still-frame times, HLS playlists. Pure functions."""

import math
import re
from dataclasses import dataclass
from pathlib import Path

#: Rung (short side, in pixels) -> (video max bit rate, audio bit rate), bits per second.
LADDER_BITRATES: dict[int, tuple[int, int]] = {
    1080: (5_000_000, 128_000),
    720: (2_800_000, 128_000),
    480: (1_400_000, 96_000),
    360: (800_000, 96_000),
}
#: The rungs made by default, largest first (the transcode settings' default: SMMU_TRANSCODE_HEIGHTS).
DEFAULT_RUNGS: tuple[int, ...] = tuple(sorted(LADDER_BITRATES, reverse=True))


@dataclass(frozen=True)
class Rendition:
    label: str  # "720p": the rung, i.e. the picture's short side
    width: int
    height: int
    video_bitrate: int  # cap (maxrate), bits per second
    audio_bitrate: int

    @property
    def name(self) -> str:
        return self.label


def even(value: float) -> int:
    """Nearest even integer, at least 2 (H.264 4:2:0 needs even dimensions)."""
    return max(2, round(value / 2.0) * 2)


def _bitrates(rung: int, width: int, height: int) -> tuple[int, int]:
    if rung in LADDER_BITRATES:
        return LADDER_BITRATES[rung]
    known = sorted(LADDER_BITRATES)
    base = next((r for r in known if r >= rung), known[-1])
    video, audio = LADDER_BITRATES[base]
    base_pixels = (base * 16 / 9) * base
    return max(150_000, int(video * min(1.0, width * height / base_pixels))), audio


def plan_ladder(width: int, height: int, rungs: tuple[int, ...] = DEFAULT_RUNGS) -> list[Rendition]:
    """Renditions for an upright picture of ``width`` x ``height`` (display size: rotation and pixel aspect
    already applied), largest first.

    A rung is the short side (720p is 1280x720 landscape, 720x1280 portrait). No rung is larger than the
    source: a source smaller than every rung gets one rendition at its own size. Dimensions are even and keep
    the source's aspect ratio.
    """
    if width < 2 or height < 2:
        raise ValueError(f"picture size {width}x{height} is too small")
    short, long_side = min(width, height), max(width, height)
    chosen = sorted({r for r in rungs if r <= short}, reverse=True)
    if not chosen:
        chosen = [short]
    renditions = []
    for rung in chosen:
        target_short = even(rung)
        target_long = even(long_side * rung / short)
        w, h = (target_long, target_short) if width >= height else (target_short, target_long)
        video, audio = _bitrates(rung, w, h)
        renditions.append(Rendition(label=f"{rung}p", width=w, height=h, video_bitrate=video, audio_bitrate=audio))
    return renditions


def fit_width(width: int, height: int, target_width: int) -> tuple[int, int]:
    """Even size ``target_width`` wide (or the source's width if smaller) with the source's aspect ratio."""
    w = even(min(target_width, width))
    return w, even(height * w / width)


def still_times(duration: float, count: int) -> tuple[float, list[float]]:
    """(poster time, thumbnail times): the poster a little way in (past fades and black leaders),
    thumbnails evenly spread; all strictly inside the media."""
    last = max(0.0, duration - 0.1)
    poster = min(max(0.0, min(duration * 0.1, 5.0)), last)
    thumbs = [round(min(duration * (i + 1) / (count + 1), last), 3) for i in range(count)]
    return round(poster, 3), thumbs


def gop_frames(fps: float | None, segment_seconds: float) -> int:
    return max(1, round((fps or 30.0) * segment_seconds))


# -- HLS ------------------------------------------------------------------------------------------------

_H264_PROFILES = {
    "baseline": (0x42, 0x00),
    "constrained baseline": (0x42, 0xE0),
    "main": (0x4D, 0x40),
    "extended": (0x58, 0x00),
    "high": (0x64, 0x00),
}


def codecs_string(video_profile: str | None, video_level: int | None, has_audio: bool) -> str:
    """RFC 6381 CODECS value, e.g. ``avc1.64001f,mp4a.40.2``."""
    profile, constraints = _H264_PROFILES.get((video_profile or "high").lower(), (0x64, 0x00))
    level = video_level if video_level and video_level > 0 else 40
    codecs = [f"avc1.{profile:02x}{constraints:02x}{level:02x}"]
    if has_audio:
        codecs.append("mp4a.40.2")
    return ",".join(codecs)


@dataclass(frozen=True)
class VariantStats:
    peak_bandwidth: int  # bits per second of the most demanding segment
    average_bandwidth: int
    segments: list[str]
    duration_seconds: float


_EXTINF = re.compile(r"^#EXTINF:([0-9.]+)")


def variant_stats(playlist: Path) -> VariantStats:
    """Peak and average bandwidth of a media playlist, from its segments' sizes and durations (as the HLS
    spec defines BANDWIDTH and AVERAGE-BANDWIDTH)."""
    segments: list[tuple[str, float]] = []
    pending: float | None = None
    for line in playlist.read_text().splitlines():
        line = line.strip()
        match = _EXTINF.match(line)
        if match:
            pending = float(match.group(1))
        elif line and not line.startswith("#") and pending is not None:
            segments.append((line, pending))
            pending = None
    if not segments:
        raise ValueError(f"{playlist.name} lists no segments")
    total_bits = 0
    peak = 0.0
    for name, seconds in segments:
        bits = (playlist.parent / name).stat().st_size * 8
        total_bits += bits
        peak = max(peak, bits / max(seconds, 0.001))
    total_seconds = sum(seconds for _, seconds in segments)
    return VariantStats(
        peak_bandwidth=math.ceil(peak),
        average_bandwidth=math.ceil(total_bits / max(total_seconds, 0.001)),
        segments=[name for name, _ in segments],
        duration_seconds=total_seconds,
    )


@dataclass(frozen=True)
class Variant:
    uri: str
    width: int
    height: int
    stats: VariantStats
    codecs: str
    fps: float | None


def master_playlist(variants: list[Variant]) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for variant in variants:
        attributes = [
            f"BANDWIDTH={variant.stats.peak_bandwidth}",
            f"AVERAGE-BANDWIDTH={variant.stats.average_bandwidth}",
            f"RESOLUTION={variant.width}x{variant.height}",
            f'CODECS="{variant.codecs}"',
        ]
        if variant.fps:
            attributes.append(f"FRAME-RATE={variant.fps:.3f}")
        lines.append("#EXT-X-STREAM-INF:" + ",".join(attributes))
        lines.append(variant.uri)
    return "\n".join(lines) + "\n"
