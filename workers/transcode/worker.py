"""Transcode: from one uploaded audio or video file, the files a player needs.

Video: an H.264/AAC MP4 per rung of the ladder (never upscaled, upright, even-sized), HLS (a media playlist per
rendition plus a master playlist), a poster frame and thumbnails. Audio: loudness-normalised AAC (m4a) and
MP3, and a waveform picture. ``transcode`` does the work given a way to run commands; ``SPEC`` plugs it into
the worker runtime.
"""

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ffmpeg

from smmu.errors import CorruptMediaError
from smmu.similar import dhash_hex, join_frames
from workers.errors import WorkerError
from workers.probe import describe, probe, probe_raw
from workers.progress import Report, ffmpeg_progress, scaled
from workers.runtime import Artifact, Reused, TaskContext, WorkerSpec, WorkResult
from workers.transcode import commands
from workers.transcode.plan import (
    Rendition,
    Storyboard,
    Variant,
    codecs_string,
    fit_width,
    master_playlist,
    plan_ladder,
    plan_storyboard,
    sheet_layout,
    still_times,
    storyboard_vtt,
    variant_stats,
)
from workers.transcode.settings import TranscodeSettings

#: Runs an argv with a name for its log; returns the log's path (the tool's stderr).
Runner = Callable[[list[str], str], Path]

MP4 = "video/mp4"
M3U8 = "application/vnd.apple.mpegurl"
TS = "video/mp2t"
JPEG = "image/jpeg"
PNG = "image/png"
VTT = "text/vtt"
WEBP = "image/webp"
#: The audio-only HLS rendition's name (its playlist is hls/audio.m3u8).
AUDIO_ONLY = "audio"
AUDIO_ONLY_CODECS = "mp4a.40.2"
#: Sample rates AAC and MP3 both take; anything else is resampled to 48 kHz.
_KEPT_SAMPLE_RATES = frozenset({16000, 22050, 24000, 32000, 44100, 48000})
#: A video's perceptual hash: the dHash of this many frames, at (i + 1) / (n + 1) of its duration, this wide.
FINGERPRINT_FRAMES = 5
FINGERPRINT_WIDTH = 160
#: Below this integrated loudness the input counts as silent and is not normalised (gain would be absurd).
SILENCE_LUFS = -70.0


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _output_info(path: Path) -> dict[str, Any]:
    info = probe_raw(path)
    return {
        "media": describe(info),
        "video_stream": next((s for s in info["streams"] if s["codec_type"] == "video"), {}),
    }


def transcode(
    source: Path, out_dir: Path, run: Runner, settings: TranscodeSettings, progress: Report | None = None
) -> tuple[list[Artifact], dict[str, Any]]:
    """Probe ``source`` and make every output into ``out_dir``. Returns the files and the probed metadata.
    ``progress`` hears how far it is, in percent of the whole."""
    media = probe(source)
    if media["has_video"]:
        return _video(source, media, out_dir, run, settings, progress), media
    return _audio(source, media, out_dir, run, settings, progress), media


def _pass(
    run: Runner, args: list[str], name: str, out_dir: Path, media: dict[str, Any], span: tuple[float, float],
    progress: Report | None,
) -> Path:  # fmt: skip
    """Run one FFmpeg pass that covers ``span`` (percent) of the task, reporting its progress as it goes."""
    report = scaled(progress, *span) if progress else None
    with ffmpeg_progress(args, out_dir.parent / f"{name}.progress", media.get("duration_seconds"), report) as tracked:
        log = run(tracked, name)
    if progress:
        progress(span[1])
    return log


def _video(
    source: Path,
    media: dict[str, Any],
    out_dir: Path,
    run: Runner,
    settings: TranscodeSettings,
    progress: Report | None = None,
) -> list[Artifact]:
    video, audio = media["video"], media["audio"]
    renditions = plan_ladder(video["width"], video["height"], settings.heights)
    mp4_dir, hls_dir, image_dir = (out_dir / name for name in ("video", "hls", "images"))
    # Intermediates (the audio-only AAC, the storyboard's single frames) stay out of the uploaded folder.
    work_dir = out_dir.parent / "intermediate"
    frame_dir = work_dir / "frames"
    for folder in (mp4_dir, hls_dir, image_dir, frame_dir):
        folder.mkdir(parents=True, exist_ok=True)
    storyboard = (
        plan_storyboard(
            media["duration_seconds"],
            renditions[0].width,
            renditions[0].height,
            tile_width=settings.storyboard_tile_width,
            max_frames=settings.storyboard_max_frames,
            min_interval=settings.storyboard_interval_seconds,
            columns=settings.storyboard_columns,
            rows=settings.storyboard_rows,
        )
        if settings.storyboard
        else None
    )
    hdr = bool(video.get("hdr"))
    args, mp4s = commands.ladder(
        source,
        renditions,
        mp4_dir,
        video_index=video["index"],
        audio_index=audio["index"] if audio else None,
        audio_channels=audio["channels"] if audio else None,
        fps=video["fps"],
        settings=settings,
        hdr=hdr,
        storyboard=(storyboard, frame_dir) if storyboard else None,
        audio_only=work_dir / "audio_only.mp4" if audio else None,
    )
    # The ladder is nearly all of a video's work: one decode, every rendition encoded.
    _pass(run, args, "ladder", out_dir, media, (0.0, 90.0), progress)
    media["tone_mapped"] = hdr
    artifacts: list[Artifact] = []
    probed: dict[str, dict[str, Any]] = {}
    for rendition in renditions:
        info = _output_info(mp4s[rendition.name])
        made = info["media"]
        probed[rendition.name] = info
        if (made["video"]["width"], made["video"]["height"]) != (rendition.width, rendition.height):
            raise WorkerError(
                f"{rendition.label} came out {made['video']['width']}x{made['video']['height']}, "
                f"not {rendition.width}x{rendition.height}"
            )
        artifacts.append(
            Artifact(
                path=mp4s[rendition.name],
                name=f"video/{rendition.name}.mp4",
                content_type=MP4,
                kind="video",
                width=rendition.width,
                height=rendition.height,
                duration_seconds=made["duration_seconds"],
                bitrate=made["bitrate"],
            )
        )

    audio_only = mp4s.pop(AUDIO_ONLY, None)
    if settings.hls:
        artifacts += _hls(mp4s, audio_only, renditions, probed, hls_dir, media, run, settings)

    stills, media["perceptual_hash"] = _stills(source, media, renditions[0], image_dir, work_dir, run, settings)
    artifacts.extend(stills)
    if storyboard:
        artifacts.extend(_storyboard(storyboard, frame_dir, out_dir / "storyboard", media["duration_seconds"]))
    return artifacts


def _hls(
    mp4s: dict[str, Path],
    audio_only: Path | None,
    renditions: list[Rendition],
    probed: dict[str, dict[str, Any]],
    hls_dir: Path,
    media: dict[str, Any],
    run: Runner,
    settings: TranscodeSettings,
) -> list[Artifact]:
    """HLS from the MP4s (copied, not encoded again): a media playlist per rendition, the audio-only rendition
    and the master playlist."""
    artifacts: list[Artifact] = []
    has_audio = media["audio"] is not None
    args, playlists = commands.hls(
        {**mp4s, **({AUDIO_ONLY: audio_only} if audio_only else {})},
        hls_dir,
        segment_seconds=settings.hls_segment_seconds,
        has_audio=has_audio,
        audio_only=AUDIO_ONLY,
    )
    run(args, "hls")
    variants = []
    for rendition in renditions:
        playlist = playlists[rendition.name]
        stats = variant_stats(playlist)
        stream = probed[rendition.name]["video_stream"]
        variants.append(
            Variant(
                uri=playlist.name,
                width=rendition.width,
                height=rendition.height,
                stats=stats,
                codecs=codecs_string(stream.get("profile"), stream.get("level"), has_audio),
                fps=probed[rendition.name]["media"]["video"]["fps"],
            )
        )
        artifacts.append(
            Artifact(
                path=playlist,
                name=f"hls/{playlist.name}",
                content_type=M3U8,
                kind="hls_playlist",
                width=rendition.width,
                height=rendition.height,
                duration_seconds=round(stats.duration_seconds, 3),
                bitrate=stats.average_bandwidth,
            )
        )
        artifacts.extend(Artifact(path=hls_dir / seg, name=f"hls/{seg}", content_type=TS) for seg in stats.segments)
    if audio_only:
        artifacts.extend(_audio_only_variant(playlists[AUDIO_ONLY], variants))
    first_segment = hls_dir / variants[0].stats.segments[0]
    start = _number((probe_raw(first_segment).get("format") or {}).get("start_time"))
    # Where the segments' clock starts (90 kHz): captions added later are mapped onto it (smmu/hls.py).
    media["hls"] = {"mpegts_start": round(start * 90000) if start is not None else None}
    master = hls_dir / "master.m3u8"
    master.write_text(master_playlist(variants))
    artifacts.append(Artifact(path=master, name="hls/master.m3u8", content_type=M3U8, kind="hls_master"))
    return artifacts


def _audio_only_variant(playlist: Path, variants: list[Variant]) -> list[Artifact]:
    """The audio-only rendition, listed last in the master (players pick it only when nothing else fits)."""
    stats = variant_stats(playlist)
    variants.append(
        Variant(uri=playlist.name, width=None, height=None, stats=stats, codecs=AUDIO_ONLY_CODECS, fps=None)
    )
    segments = [Artifact(path=playlist.parent / seg, name=f"hls/{seg}", content_type=TS) for seg in stats.segments]
    listed = Artifact(
        path=playlist,
        name=f"hls/{playlist.name}",
        content_type=M3U8,
        kind="hls_audio_playlist",
        duration_seconds=round(stats.duration_seconds, 3),
        bitrate=stats.average_bandwidth,
    )
    return [listed, *segments]


def _storyboard(storyboard: Storyboard, frame_dir: Path, out_dir: Path, duration: float) -> list[Artifact]:
    """Sprite sheets from the frames the ladder's decode wrote, and the WebVTT track that points into them."""
    from PIL import Image

    frames = sorted(frame_dir.glob("frame_*.jpg"))
    if not frames:
        raise CorruptMediaError("no picture could be decoded for the storyboard")
    out_dir.mkdir(parents=True, exist_ok=True)
    sheets = sheet_layout(storyboard, len(frames))
    artifacts = []
    position = 0
    for sheet in sheets:
        canvas = Image.new("RGB", (sheet.width, sheet.height))
        for i in range(sheet.frames):
            with Image.open(frames[position]) as tile:
                x = (i % storyboard.columns) * storyboard.tile_width
                y = (i // storyboard.columns) * storyboard.tile_height
                canvas.paste(tile.convert("RGB").resize((storyboard.tile_width, storyboard.tile_height)), (x, y))
            position += 1
        path = out_dir / sheet.name
        canvas.save(path, "JPEG", quality=75, optimize=True)
        artifacts.append(
            Artifact(
                path=path,
                name=f"storyboard/{sheet.name}",
                content_type=JPEG,
                kind="storyboard_sheet",
                width=sheet.width,
                height=sheet.height,
            )
        )
    track = out_dir / "storyboard.vtt"
    track.write_text(storyboard_vtt(storyboard, sheets, duration), encoding="utf-8")
    artifacts.append(
        Artifact(
            path=track, name="storyboard/storyboard.vtt", content_type=VTT, kind="storyboard", duration_seconds=duration
        )
    )
    return artifacts


def _stills(
    source: Path,
    media: dict[str, Any],
    top: Rendition,
    image_dir: Path,
    work_dir: Path,
    run: Runner,
    settings: TranscodeSettings,
) -> tuple[list[Artifact], str | None]:
    """The poster and thumbnails, and the video's perceptual hash (None if a frame of it could not be decoded):
    all from one FFmpeg process, one input seek per picture."""
    poster_at, thumb_times = still_times(media["duration_seconds"], settings.thumbnails)
    thumb_w, thumb_h = fit_width(top.width, top.height, settings.thumbnail_width)
    shots = [(poster_at, top.width, top.height, image_dir / "poster.jpg")]
    shots += [(at, thumb_w, thumb_h, image_dir / f"thumb_{i + 1:02d}.jpg") for i, at in enumerate(thumb_times)]
    # The perceptual hash's frames: at fixed fractions of the picture's own duration (a container's may include
    # a longer audio track, which differs between copies), not at the source's keyframes, which a re-encoded copy
    # does not share. Small (the dHash shrinks them to 9x9) but not tiny: FFmpeg's and Pillow's scalers then
    # agree better between a source and its copy.
    _, print_times = still_times(
        media["video"].get("duration_seconds") or media["duration_seconds"], FINGERPRINT_FRAMES
    )
    print_w, print_h = fit_width(top.width, top.height, FINGERPRINT_WIDTH)
    print_dir = work_dir / "fingerprint"
    print_dir.mkdir(parents=True, exist_ok=True)
    prints = [(at, print_w, print_h, print_dir / f"frame_{i + 1:02d}.jpg") for i, at in enumerate(print_times)]
    args = commands.stills(
        source, video_index=media["video"]["index"], shots=shots + prints, hdr=bool(media["video"].get("hdr")),
        tonemap=settings.tonemap,
    )  # fmt: skip
    run(args, "stills")
    artifacts = []
    for at, width, height, path in shots:
        if not path.exists() or path.stat().st_size == 0:
            raise CorruptMediaError(f"no picture could be decoded at {at:.2f} s")
        kind = "poster" if path.name == "poster.jpg" else "thumbnail"
        artifacts.append(
            Artifact(path=path, name=f"images/{path.name}", content_type=JPEG, kind=kind, width=width, height=height)
        )
    return artifacts, video_fingerprint([path for *_, path in prints])


def video_fingerprint(frames: list[Path]) -> str | None:
    """The perceptual hash of a video from its fingerprint frames (smmu/similar.py); None if one is missing
    (the video is then not found by ``/similar``, which is no reason to fail its job)."""
    from PIL import Image

    hashes = []
    for frame in frames:
        if not frame.exists() or frame.stat().st_size == 0:
            return None
        with Image.open(frame) as picture:
            hashes.append(dhash_hex(picture))
    return join_frames(hashes)


def parse_loudnorm(stderr: str) -> dict[str, Any] | None:
    """loudnorm's JSON report from FFmpeg's stderr; None if the input is silent (nothing to normalise)."""
    start, end = stderr.rfind("{"), stderr.rfind("}")
    if start < 0 or end < start:
        raise WorkerError("the loudness analysis produced no report")
    report = json.loads(stderr[start : end + 1])
    try:
        loudness = float(report["input_i"])
    except ValueError:
        return None
    if not math.isfinite(loudness) or loudness < SILENCE_LUFS:
        return None
    return report


def _audio(
    source: Path,
    media: dict[str, Any],
    out_dir: Path,
    run: Runner,
    settings: TranscodeSettings,
    progress: Report | None = None,
) -> list[Artifact]:
    audio = media["audio"]
    audio_dir = out_dir / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    analysis = commands.loudness_analysis(source, audio_index=audio["index"], settings=settings)
    log = _pass(run, analysis, "loudness", out_dir, media, (0.0, 40.0), progress)
    measured = parse_loudnorm(log.read_text(errors="replace"))
    rate = audio["sample_rate"] if audio["sample_rate"] in _KEPT_SAMPLE_RATES else 48000
    args, paths = commands.audio_outputs(
        source,
        audio_dir,
        audio_index=audio["index"],
        channels=audio["channels"],
        sample_rate=rate,
        measured=measured,
        settings=settings,
    )
    _pass(run, args, "audio", out_dir, media, (40.0, 95.0), progress)
    artifacts = []
    for fmt, content_type in (("m4a", "audio/mp4"), ("mp3", "audio/mpeg")):
        made = probe(paths[fmt])
        artifacts.append(
            Artifact(
                path=paths[fmt],
                name=f"audio/{paths[fmt].name}",
                content_type=content_type,
                kind="audio",
                duration_seconds=made["duration_seconds"],
                bitrate=made["bitrate"],
            )
        )
    width, height = (int(v) for v in settings.waveform_size.split("x"))
    artifacts.append(
        Artifact(
            path=paths["waveform"],
            name="audio/waveform.png",
            content_type=PNG,
            kind="waveform",
            width=width,
            height=height,
        )
    )
    media["normalised"] = measured is not None
    return artifacts


def frame_count(path: Path) -> int:
    """Frames in the first video stream, counted from the packets (no decode)."""
    info = ffmpeg.probe(str(path), v="error", count_packets=None, select_streams="v:0")
    streams = info.get("streams") or []
    return int(streams[0].get("nb_read_packets") or 0) if streams else 0


def animate(
    source: Path, out_dir: Path, run: Runner, settings: TranscodeSettings
) -> tuple[list[Artifact], dict[str, Any]]:
    """An animated GIF also as an H.264 MP4 and an animated WebP (a still GIF: nothing to make)."""
    frames = frame_count(source)
    facts: dict[str, Any] = {"frames": frames}
    if frames < 2:
        return [], facts
    folder = out_dir / "animation"
    folder.mkdir(parents=True, exist_ok=True)
    args, paths = commands.animation(source, folder, settings=settings)
    run(args, "animation")
    artifacts = []
    for fmt, content_type in (("mp4", MP4), ("webp", WEBP)):
        path = paths[fmt]
        if not path.exists() or path.stat().st_size == 0:
            raise CorruptMediaError("the animation could not be decoded")
        width, height, duration = _animation_facts(path, fmt)
        artifacts.append(
            Artifact(
                path=path,
                name=f"animation/{path.name}",
                content_type=content_type,
                kind=f"animation_{fmt}",
                width=width,
                height=height,
                duration_seconds=duration,
            )
        )
    facts.update({a.kind: a.path.stat().st_size for a in artifacts if a.kind})
    return artifacts, facts


def _animation_facts(path: Path, fmt: str) -> tuple[int, int, float | None]:
    """(width, height, seconds) of a made animation. FFmpeg cannot read animated WebP back; Pillow can."""
    if fmt == "webp":
        from PIL import Image

        with Image.open(path) as image:
            frames = getattr(image, "n_frames", 1)
            total_ms = 0
            for index in range(frames):
                image.seek(index)
                image.load()  # a frame's duration is known once it is read
                total_ms += int(image.info.get("duration") or 0)
            return image.width, image.height, round(total_ms / 1000, 3) or None
    made = probe(path)
    return made["video"]["width"], made["video"]["height"], made["duration_seconds"]


def load() -> Callable[[TaskContext], WorkResult]:
    settings = TranscodeSettings()

    def handle(ctx: TaskContext) -> WorkResult:
        if ctx.task.media_type == "image":
            # An animated GIF after its image processing: the MP4 and WebP only (see the state machine).
            made, facts = animate(ctx.source, ctx.workdir / "out", ctx.run, settings)
            ctx.logger.info("animation converted", files=len(made), frames=facts["frames"])
            return WorkResult(artifacts=made, result={"media_type": "image", "animation": facts})
        options = ctx.task.processing_options
        # The upload's choices (ladder rungs, HLS) override the worker's defaults for this task only.
        chosen = settings.model_copy(
            update={
                "hls": settings.hls and options.hls,
                **({"heights": tuple(options.ladder)} if options.ladder else {}),
            }
        )
        artifacts, media = transcode(ctx.source, ctx.workdir / "out", ctx.run, chosen, ctx.progress)
        media_type = "video" if media["has_video"] else "audio"
        hls = media.pop("hls", {})
        perceptual_hash = media.pop("perceptual_hash", None)
        if settings.write_media_table:
            from smmu import aws
            from smmu.repository import JobRepository, MediaRepository
            from smmu.settings import get_settings

            store = MediaRepository(get_settings().media_table, aws.client("dynamodb"))
            store.put(ctx.task.job_id, media_type, media)
            if perceptual_hash:
                # On the job, as ProcessImage puts an image's: GET /v1/jobs/{id}/similar reads it there.
                jobs = JobRepository(get_settings().jobs_table, aws.client("dynamodb"))
                jobs.update_fields(ctx.task.job_id, {"perceptual_hash": perceptual_hash})
        ctx.logger.info("transcoded", media_type=media_type, files=len(artifacts))
        return WorkResult(artifacts=artifacts, result={"media_type": media_type, "media": media, "hls": hls})

    return handle


def reuse(reused: Reused) -> dict[str, Any]:
    """The answer for an exact duplicate whose files were copied: the original's metadata (copied to this job's
    media record) and perceptual hash. The copied HLS master already names the original's captions, which were
    copied with it: PackageHls leaves them as they are."""
    if reused.task.media_type == "image":  # an animated GIF's MP4 and WebP
        return {"media_type": "image", "animation": {"reused": True}}
    if not TranscodeSettings().write_media_table:
        return {"media_type": reused.original.media_type, "hls": {}}
    from smmu import aws
    from smmu.repository import JobRepository, MediaRepository
    from smmu.settings import get_settings

    store = MediaRepository(get_settings().media_table, aws.client("dynamodb"))
    record = store.get(reused.original.job_id)
    media_type = record["media_type"] if record else reused.original.media_type
    if record is not None:
        store.put(reused.task.job_id, record["media_type"], record["metadata"])
    if reused.original.perceptual_hash:
        jobs = JobRepository(get_settings().jobs_table, aws.client("dynamodb"))
        jobs.update_fields(reused.task.job_id, {"perceptual_hash": reused.original.perceptual_hash})
    return {"media_type": media_type, "media": record["metadata"] if record else None, "hls": {}}


SPEC = WorkerSpec(name="transcode", step="Transcode", load=load, reuse=reuse)
