"""FFmpeg command lines, built with ffmpeg-python. Pure: arguments in, an argv list out.

Keeping them as plain argv lists lets the worker run them cancellably and the benchmark run the very same
command lines without the worker around them.
"""

from pathlib import Path
from typing import Any

import ffmpeg

from workers.transcode.plan import Rendition, gop_frames
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
) -> tuple[list[str], dict[str, Path]]:
    """One decode, one H.264/AAC MP4 per rendition. FFmpeg applies the source's rotation before the filters
    (autorotate), so every rendition is upright and carries no rotation of its own."""
    source_in = ffmpeg.input(str(source))
    video = source_in[str(video_index)]
    if fps and fps > MAX_FPS:
        video = video.filter("fps", MAX_FPS)
        fps = MAX_FPS
    branches = video.filter_multi_output("split", len(renditions)) if len(renditions) > 1 else None
    gop = gop_frames(fps, settings.hls_segment_seconds)
    outputs = []
    paths: dict[str, Path] = {}
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
    mp4s: dict[str, Path], out_dir: Path, *, segment_seconds: float, has_audio: bool
) -> tuple[list[str], dict[str, Path]]:
    """Remux each rendition (no re-encode) into an HLS media playlist with MPEG-TS segments."""
    outputs = []
    playlists: dict[str, Path] = {}
    for name, mp4 in mp4s.items():
        playlist = out_dir / f"{name}.m3u8"
        playlists[name] = playlist
        rendition = ffmpeg.input(str(mp4))
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
) -> list[str]:
    """One JPEG per (time, width, height, path), each from a fast input seek, in one FFmpeg process.

    Shots that share a time and size (a very short video clamps every thumbnail to its one frame) share one
    filter chain, split into one output each: ffmpeg-python builds identical chains as one node, which cannot
    feed several outputs without a ``split``.
    """
    groups: dict[tuple[float, int, int], list[Path]] = {}
    for at, width, height, path in shots:
        groups.setdefault((at, width, height), []).append(path)
    outputs = []
    for (at, width, height), paths in groups.items():
        frame = ffmpeg.input(str(source), ss=at)[str(video_index)]
        frame = frame.filter("scale", width, height).filter("setsar", "1")
        branches = [frame] if len(paths) == 1 else list(_split(frame, len(paths)))
        outputs += [
            ffmpeg.output(branch, str(path), vframes=1, **{"q:v": 3}, **_STRIP)
            for branch, path in zip(branches, paths, strict=True)
        ]
    return _compile(*outputs)


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
