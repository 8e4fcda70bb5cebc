"""Transcribe: speech in an uploaded audio or video file to a transcript (JSON), SRT and WebVTT.

The audio is extracted with FFmpeg to a 16 kHz mono WAV on disk, then transcribed a chunk at a time. Media
without an audio track, silence and sound that is not speech complete with an empty transcript and a note.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smmu.options import AUTO
from workers.probe import probe
from workers.runtime import Artifact, Reused, TaskContext, WorkerSpec, WorkResult
from workers.transcribe import audio
from workers.transcribe.engine import NOTE_NO_AUDIO, Transcriber
from workers.transcribe.formats import Transcript, summary_of, to_srt, to_vtt

#: Runs an argv with a name for its log; returns the log's path.
Runner = Callable[[list[str], str], Path]


def transcribe(
    source: Path,
    out_dir: Path,
    run: Runner,
    transcriber: Transcriber,
    cancelled: Any = None,
    language: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> tuple[list[Artifact], Transcript]:
    media = probe(source)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not media["has_audio"]:
        transcript = transcriber.empty(media["duration_seconds"], NOTE_NO_AUDIO)
    else:
        wav = out_dir.parent / "audio-16k.wav"
        run(audio.extract_args(source, wav, audio_index=media["audio"]["index"]), "extract-audio")
        # Extracting the audio is quick; Whisper's decoding is the work, reported by its segments' times.
        transcript = transcriber.transcribe_wav(wav, cancelled, language, progress)
        wav.unlink(missing_ok=True)
    return write_outputs(transcript, out_dir), transcript


def write_outputs(transcript: Transcript, out_dir: Path) -> list[Artifact]:
    files = {
        "transcript.json": (
            json.dumps(transcript.to_json(), ensure_ascii=False, indent=1),
            "application/json",
            "transcript",
        ),
        "transcript.srt": (to_srt(transcript.segments), "application/x-subrip", "subtitles_srt"),
        "transcript.vtt": (to_vtt(transcript.segments, transcript.language), "text/vtt", "subtitles_vtt"),
    }
    artifacts = []
    for name, (text, content_type, kind) in files.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        artifacts.append(
            Artifact(
                path=path,
                name=name,
                content_type=content_type,
                kind=kind,
                duration_seconds=round(transcript.duration_seconds, 3),
            )
        )
    return artifacts


def load() -> Callable[[TaskContext], WorkResult]:
    transcriber = Transcriber()

    def handle(ctx: TaskContext) -> WorkResult:
        options = ctx.task.processing_options
        # The upload's spoken language, when the client named one ("auto": the setting's, else detected).
        language = None if options.language == AUTO else options.language
        artifacts, transcript = transcribe(
            ctx.source, ctx.workdir / "out", ctx.run, transcriber, ctx.cancelled, language, ctx.progress
        )
        ctx.logger.info("transcribed", empty=transcript.empty, segments=len(transcript.segments), note=transcript.note)
        return WorkResult(artifacts=artifacts, result={"transcript": transcript.summary()})

    return handle


def reuse(reused: Reused) -> dict[str, Any]:
    """The answer for an exact duplicate whose transcript files were copied: the summary of the copied
    transcript (its language and whether it is empty are what PackageHls needs)."""
    transcript = next((o for o in reused.outputs if o.kind == "transcript"), None)
    if transcript is None:
        raise ValueError("the identical upload's outputs have no transcript")
    return {"transcript": summary_of(json.loads(reused.read(transcript.key)))}


SPEC = WorkerSpec(name="transcribe", step="Transcribe", load=load, reuse=reuse)
