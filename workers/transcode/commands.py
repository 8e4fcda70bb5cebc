"""FFmpeg command lines, built with ffmpeg-python. Pure: arguments in, an argv list out.

Keeping them as plain argv lists lets the worker run them cancellably and the benchmark run the very same
command lines without the worker around them.
"""

import functools
import subprocess
from pathlib import Path
from typing import Any

import ffmpeg

from workers.transcode.plan import Rendition, Storyboard, gop_frames
from workers.transcode.settings import TranscodeSettings

GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-nostats", "-loglevel", "error")
#: Keep no container metadata in outputs: phones write the recording location there.
_STRIP = {"map_metadata": "-1", "map_chapters": "-1"}
MAX_FPS = 60.0


def _compile(*outputs: Any, loglevel: str = "error") -> list[str]:
    graph = ffmpeg.merge_outputs(*outputs) if len(outputs) > 1 else outputs[0]
    args = list(GLOBAL_ARGS)
    args[args.index("error")] = loglevel
    return graph.global_args(*args).overwrite_output().compile()


@functools.cache
def has_filter(name: str) -> bool:
    """Whether this FFmpeg build has the filter ``name`` (zscale needs libzimg, not in every build)."""
    listing = subprocess.run(["ffmpeg", "-hide_banner", "-filters"], capture_output=True, text=True, check=False)
    return any(line.split()[1:2] == [name] for line in listing.stdout.splitlines())


#: Output tags of tone-mapped video: what the pixels now are (BT.709 primaries, transfer and matrix, TV range).
BT709_TAGS = {"color_primaries": "bt709", "color_trc": "bt709", "colorspace": "bt709", "color_range": "tv"}


def to_sdr(stream: Any, *, tonemap: str = "hable") -> Any:
    """HDR (PQ or HLG, usually 10-bit BT.2020) to SDR BT.709 8-bit 4:2:0.

    With zscale (libzimg): linearise, convert the primaries to BT.709 in linear light, compress the highlights
    with a tone curve (hable keeps mid-tones and rolls off highlights), then apply the BT.709 transfer. Without
    zscale only the matrix can be converted (``scale``): colours are right-ish but highlights clip and the
    picture looks flat, which is still better than PQ shown as if it were SDR (washed out, grey).
    """
    if has_filter("zscale") and has_filter("tonemap"):
        return (
            stream.filter("zscale", t="linear", npl=100)
            .filter("format", "gbrpf32le")
            .filter("zscale", p="bt709")
            .filter("tonemap", tonemap, desat=0)
            .filter("zscale", t="bt709", m="bt709", r="tv")
            .filter("format", "yuv420p")
        )
    return stream.filter("scale", in_color_matrix="bt2020", out_color_matrix="bt709", out_range="tv").filter(
        "format", "yuv420p"
    )


def ladder(
    source: Path,
    renditions: list[Rendition],
    out_dir: Path,
    *,
    video_index: int,
    audio_index: int | None,
    audio_channels: int | None,
    fps: float | None,
    settings: TranscodeSettings,
    hdr: bool = False,
    storyboard: tuple[Storyboard, Path] | None = None,
    audio_only: Path | None = None,
) -> tuple[list[str], dict[str, Path]]:
    """One decode, one H.264/AAC MP4 per rendition. FFmpeg applies the source's rotation before the filters
    (autorotate), so every rendition is upright and carries no rotation of its own.

    From the same decode: an HDR source is tone-mapped once, before the split (``hdr``); the storyboard's frames
    as JPEGs into the given folder (``storyboard``); the audio-only HLS rendition's AAC (``audio_only``).
    """
    source_in = ffmpeg.input(str(source))
    video = source_in[str(video_index)]
    if fps and fps > MAX_FPS:
        video = video.filter("fps", MAX_FPS)
        fps = MAX_FPS
    if hdr:
        video = to_sdr(video, tonemap=settings.tonemap)
    count = len(renditions) + (1 if storyboard else 0)
    branches = video.filter_multi_output("split", count) if count > 1 else None
    gop = gop_frames(fps, settings.hls_segment_seconds)
    outputs = []
    paths: dict[str, Path] = {}
    if storyboard:
        plan, frame_dir = storyboard
        frames = (branches.stream(len(renditions)) if branches is not None else video).filter(
            "fps", fps=f"1/{plan.interval}", round="down", eof_action="pass"
        )
        frames = frames.filter("scale", plan.tile_width, plan.tile_height).filter("setsar", "1")
        outputs.append(
            ffmpeg.output(frames, str(frame_dir / "frame_%05d.jpg"), vframes=plan.max_frames, **{"q:v": 4}, **_STRIP)
        )
    if audio_only is not None and audio_index is not None:
        paths["audio"] = audio_only
        outputs.append(
            ffmpeg.output(
                source_in[str(audio_index)],
                str(audio_only),
                **{"c:a": "aac", "b:a": settings.audio_only_bitrate},
                ac=min(audio_channels or 2, 2),
                movflags="+faststart",
                **_STRIP,
            )
        )
    for i, rendition in enumerate(renditions):
        stream = branches.stream(i) if branches is not None else video
        stream = stream.filter("scale", rendition.width, rendition.height).filter("setsar", "1")
        streams = [stream]
        options: dict[str, Any] = {
            "c:v": "libx264",
            "preset": settings.x264_preset,
            "crf": settings.crf,
            "maxrate": rendition.video_bitrate,
            "bufsize": rendition.video_bitrate * 2,
            "profile:v": "high",
            "pix_fmt": "yuv420p",
            "g": gop,
            "keyint_min": gop,
            "sc_threshold": 0,
            "force_key_frames": f"expr:gte(t,n_forced*{settings.hls_segment_seconds})",
            "movflags": "+faststart",
            "max_muxing_queue_size": 1024,
            "threads": settings.threads,
            **(BT709_TAGS if hdr else {}),
            **_STRIP,
        }
        if audio_index is not None:
            streams.append(source_in[str(audio_index)])
            options.update({"c:a": "aac", "b:a": rendition.audio_bitrate, "ac": min(audio_channels or 2, 2)})
        path = out_dir / f"{rendition.name}.mp4"
        paths[rendition.name] = path
        outputs.append(ffmpeg.output(*streams, str(path), **options))
    return _compile(*outputs), paths


def hls(
    mp4s: dict[str, Path], out_dir: Path, *, segment_seconds: float, has_audio: bool, audio_only: str | None = None
) -> tuple[list[str], dict[str, Path]]:
    """Remux each rendition (no re-encode) into an HLS media playlist with MPEG-TS segments; ``audio_only``
    names the rendition that has no picture."""
    outputs = []
    playlists: dict[str, Path] = {}
    for name, mp4 in mp4s.items():
        playlist = out_dir / f"{name}.m3u8"
        playlists[name] = playlist
        rendition = ffmpeg.input(str(mp4))
        if name == audio_only:
            streams = [rendition["a:0"]]
        else:
            streams = [rendition["v:0"], *([rendition["a:0"]] if has_audio else [])]
        outputs.append(
            ffmpeg.output(
                *streams,
                str(playlist),
                c="copy",
                f="hls",
                hls_time=segment_seconds,
                hls_playlist_type="vod",
                hls_flags="independent_segments",
                hls_segment_filename=str(out_dir / f"{name}_%04d.ts"),
                **_STRIP,
            )
        )
    return _compile(*outputs), playlists


def stills(
    source: Path,
    *,
    video_index: int,
    shots: list[tuple[float, int, int, Path]],
    hdr: bool = False,
    tonemap: str = "hable",
) -> list[str]:
    """One JPEG per (time, width, height, path), each from a fast input seek, in one FFmpeg process.

    Shots at one time (a very short video clamps every thumbnail to its one frame; a thumbnail and a perceptual
    hash frame may coincide) share one decoded frame, split into one branch per size and then per file:
    ffmpeg-python builds identical chains as one node, which cannot feed several outputs without a ``split``.
    """
    groups: dict[float, dict[tuple[int, int], list[Path]]] = {}
    for at, width, height, path in shots:
        groups.setdefault(at, {}).setdefault((width, height), []).append(path)
    outputs = []
    for at, sizes in groups.items():
        frame = ffmpeg.input(str(source), ss=at)[str(video_index)]
        if hdr:
            frame = to_sdr(frame, tonemap=tonemap)
        for sized, ((width, height), paths) in zip(_branches(frame, len(sizes)), sizes.items(), strict=True):
            scaled = sized.filter("scale", width, height).filter("setsar", "1")
            outputs += [
                ffmpeg.output(branch, str(path), vframes=1, **{"q:v": 3}, **_STRIP)
                for branch, path in zip(_branches(scaled, len(paths)), paths, strict=True)
            ]
    return _compile(*outputs)


def _branches(stream: Any, count: int) -> list[Any]:
    return [stream] if count == 1 else list(_split(stream, count))


def _split(stream: Any, count: int) -> Any:
    node = stream.filter_multi_output("split", count)
    return (node.stream(i) for i in range(count))


def loudness_analysis(source: Path, *, audio_index: int, settings: TranscodeSettings) -> list[str]:
    """First loudnorm pass: measure only (its JSON report goes to stderr at level info)."""
    measured = ffmpeg.input(str(source))[str(audio_index)].filter(
        "loudnorm",
        I=settings.loudness_lufs,
        TP=settings.true_peak_db,
        LRA=settings.loudness_range,
        print_format="json",
    )
    return _compile(ffmpeg.output(measured, "-", format="null"), loglevel="info")


def audio_outputs(
    source: Path,
    out_dir: Path,
    *,
    audio_index: int,
    channels: int | None,
    sample_rate: int,
    measured: dict[str, Any] | None,
    settings: TranscodeSettings,
) -> tuple[list[str], dict[str, Path]]:
    """Second pass: loudness-normalised AAC (m4a) and MP3, plus a waveform picture, from one decode.

    ``measured`` is the first pass's report; with it loudnorm applies one linear gain (dynamics kept). Without
    it (silent input) the audio is passed through unchanged.
    """
    audio = ffmpeg.input(str(source))[str(audio_index)]
    if measured is not None:
        audio = audio.filter(
            "loudnorm",
            I=settings.loudness_lufs,
            TP=settings.true_peak_db,
            LRA=settings.loudness_range,
            measured_I=measured["input_i"],
            measured_TP=measured["input_tp"],
            measured_LRA=measured["input_lra"],
            measured_thresh=measured["input_thresh"],
            offset=measured["target_offset"],
            linear="true",
        )
    branches = audio.filter_multi_output("asplit", 3)
    paths = {
        "m4a": out_dir / "audio.m4a",
        "mp3": out_dir / "audio.mp3",
        "waveform": out_dir / "waveform.png",
    }
    common = {"ar": sample_rate, "ac": min(channels or 2, 2), **_STRIP}
    m4a = ffmpeg.output(
        branches.stream(0),
        str(paths["m4a"]),
        **{"c:a": "aac", "b:a": settings.audio_bitrate},
        movflags="+faststart",
        **common,
    )
    mp3 = ffmpeg.output(
        branches.stream(1), str(paths["mp3"]), **{"c:a": "libmp3lame", "b:a": settings.audio_bitrate}, **common
    )
    # showwavespic keeps every sample it is given until the end: give it few (mono, low rate).
    picture = (
        branches.stream(2)
        .filter("aformat", channel_layouts="mono")
        .filter("aresample", settings.waveform_sample_rate)
        .filter("showwavespic", s=settings.waveform_size, colors=settings.waveform_color, scale="sqrt")
    )
    png = ffmpeg.output(picture, str(paths["waveform"]), vframes=1, **_STRIP)
    return _compile(m4a, mp3, png), paths


def animation(source: Path, out_dir: Path, *, settings: TranscodeSettings) -> tuple[list[str], dict[str, Path]]:
    """An animated GIF as a silent H.264 MP4 and an animated WebP, from one decode; both loop like the GIF (the
    MP4 through the player's ``loop``). Capped at ``animation_max_seconds`` and ``animation_max_width``."""
    frames = ffmpeg.input(str(source), t=settings.animation_max_seconds)["v:0"]
    # Even sizes for 4:2:0; never wider than the cap, never upscaled.
    width = f"trunc(min(iw,{settings.animation_max_width})/2)*2"
    frames = frames.filter("scale", width, -2, flags="lanczos").filter("setsar", "1")
    branches = frames.filter_multi_output("split", 2)
    paths = {"mp4": out_dir / "animation.mp4", "webp": out_dir / "animation.webp"}
    mp4 = ffmpeg.output(
        branches.stream(0),
        str(paths["mp4"]),
        **{"c:v": "libx264", "profile:v": "high"},
        preset=settings.x264_preset,
        crf=settings.crf,
        pix_fmt="yuv420p",
        movflags="+faststart",
        an=None,
        **_STRIP,
    )
    webp = ffmpeg.output(
        branches.stream(1),
        str(paths["webp"]),
        **{"c:v": "libwebp_anim", "q:v": settings.animation_webp_quality},
        loop=0,
        lossless=0,
        compression_level=4,
        **_STRIP,
    )
    return _compile(mp4, webp), paths
