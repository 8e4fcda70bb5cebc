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
    if width < 1 or height < 1:
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
    #: None for the audio-only rendition.
    width: int | None
    height: int | None
    stats: VariantStats
    codecs: str
    fps: float | None


def master_playlist(variants: list[Variant]) -> str:
    """The master playlist: one EXT-X-STREAM-INF per variant, in the order given (players start with the first;
    the audio-only rendition goes last). Captions are added once the transcript exists (``smmu.hls``)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for variant in variants:
        attributes = [
            f"BANDWIDTH={variant.stats.peak_bandwidth}",
            f"AVERAGE-BANDWIDTH={variant.stats.average_bandwidth}",
        ]
        if variant.width and variant.height:
            attributes.append(f"RESOLUTION={variant.width}x{variant.height}")
        attributes.append(f'CODECS="{variant.codecs}"')
        if variant.fps:
            attributes.append(f"FRAME-RATE={variant.fps:.3f}")
        lines.append("#EXT-X-STREAM-INF:" + ",".join(attributes))
        lines.append(variant.uri)
    return "\n".join(lines) + "\n"


# -- storyboard (scrubbing previews) ----------------------------------------------------------------------


@dataclass(frozen=True)
class Storyboard:
    """Frames every ``interval`` seconds, ``tile_width`` x ``tile_height`` each, laid out ``columns`` x ``rows``
    per sprite sheet."""

    interval: float
    max_frames: int
    tile_width: int
    tile_height: int
    columns: int
    rows: int

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows


def plan_storyboard(
    duration: float, width: int, height: int, *, tile_width: int, max_frames: int, min_interval: float, columns: int,
    rows: int,
) -> Storyboard:  # fmt: skip
    """A frame every ``min_interval`` seconds, or sparser so a long video has at most ``max_frames``."""
    interval = max(min_interval, duration / max(1, max_frames))
    tile_w, tile_h = fit_width(width, height, tile_width)
    return Storyboard(
        interval=round(interval, 3),
        max_frames=max_frames,
        tile_width=tile_w,
        tile_height=tile_h,
        columns=columns,
        rows=rows,
    )


@dataclass(frozen=True)
class Sheet:
    name: str
    width: int
    height: int
    frames: int


def sheet_layout(storyboard: Storyboard, frames: int) -> list[Sheet]:
    """The sprite sheets for ``frames`` frames: full sheets, then a last one only as tall as its rows need (a
    short video's single sheet is one row when its frames fit in one)."""
    sheets = []
    for index, start in enumerate(range(0, frames, storyboard.per_sheet)):
        count = min(storyboard.per_sheet, frames - start)
        columns = min(storyboard.columns, count)
        rows = math.ceil(count / storyboard.columns)
        sheets.append(
            Sheet(
                name=f"storyboard_{index + 1:02d}.jpg",
                width=columns * storyboard.tile_width,
                height=rows * storyboard.tile_height,
                frames=count,
            )
        )
    return sheets


def _vtt_time(seconds: float) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def storyboard_vtt(storyboard: Storyboard, sheets: list[Sheet], duration: float) -> str:
    """A WebVTT thumbnails track: one cue per frame, its text the sheet and the frame's rectangle in it
    (``storyboard_01.jpg#xywh=x,y,w,h``, the media fragment players' thumbnail plugins read). Frame ``k`` was
    taken at ``k * interval`` and stands for the time until the next one; the last lasts to the end."""
    lines = ["WEBVTT", ""]
    total = sum(sheet.frames for sheet in sheets)
    frame = 0
    for sheet in sheets:
        for i in range(sheet.frames):
            start = frame * storyboard.interval
            end = duration if frame == total - 1 else min(duration, (frame + 1) * storyboard.interval)
            x = (i % storyboard.columns) * storyboard.tile_width
            y = (i // storyboard.columns) * storyboard.tile_height
            lines += [
                f"{_vtt_time(start)} --> {_vtt_time(max(end, start + 0.001))}",
                f"{sheet.name}#xywh={x},{y},{storyboard.tile_width},{storyboard.tile_height}",
                "",
            ]
            frame += 1
    return "\n".join(lines)
