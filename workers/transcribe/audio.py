"""Audio for Whisper: extraction to 16 kHz mono WAV on disk, a silence check and bounded-size chunks."""

import math
import wave
from collections.abc import Iterator
from pathlib import Path

import ffmpeg
import numpy as np

from workers.transcode.commands import GLOBAL_ARGS

SAMPLE_RATE = 16000
_WINDOW_SECONDS = 0.05


def extract_args(source: Path, target: Path, *, audio_index: int) -> list[str]:
    """FFmpeg argv: one audio stream of ``source`` to 16 kHz mono 16-bit WAV (streamed to disk)."""
    stream = ffmpeg.input(str(source))[str(audio_index)]
    out = ffmpeg.output(stream, str(target), ac=1, ar=SAMPLE_RATE, format="wav", **{"c:a": "pcm_s16le"})
    return out.global_args(*GLOBAL_ARGS).overwrite_output().compile()


def _samples(frames: bytes) -> np.ndarray:
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def loudest_dbfs(path: Path, block_seconds: float = 10.0) -> float:
    """Level (dBFS) of the loudest 50 ms of a 16-bit mono WAV, read a block at a time; -inf for silence."""
    loudest = 0.0
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        window = max(1, int(rate * _WINDOW_SECONDS))
        block = window * max(1, int(block_seconds / _WINDOW_SECONDS))
        while True:
            samples = _samples(wav.readframes(block))
            if samples.size == 0:
                break
            usable = samples[: samples.size - samples.size % window] if samples.size >= window else samples
            rms = np.sqrt(np.mean(usable.reshape(-1, min(window, usable.size)) ** 2, axis=1))
            loudest = max(loudest, float(rms.max()))
    return 20 * math.log10(loudest) if loudest > 0 else float("-inf")


def quietest_cut(samples: np.ndarray, search: int, window: int) -> int:
    """Index in ``samples`` at the quietest ``window`` within its last ``search`` samples."""
    search = min(search, samples.size)
    tail = samples[samples.size - search :]
    count = tail.size // window
    if count < 2:
        return samples.size
    energy = np.mean(tail[: count * window].reshape(count, window) ** 2, axis=1)
    return samples.size - search + int(np.argmin(energy)) * window + window // 2


def chunks(path: Path, chunk_seconds: float, search_seconds: float = 5.0) -> Iterator[tuple[float, np.ndarray]]:
    """(offset seconds, float32 samples) pieces of at most ``chunk_seconds``, each cut at the quietest moment
    of its last ``search_seconds`` so words are not split. Only one piece is in memory at a time."""
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise ValueError("expected 16-bit mono WAV")
        rate, total = wav.getframerate(), wav.getnframes()
        size = max(1, int(chunk_seconds * rate))
        search, window = int(search_seconds * rate), max(1, int(rate * _WINDOW_SECONDS))
        position = 0
        while position < total:
            wav.setpos(position)
            samples = _samples(wav.readframes(min(size, total - position)))
            if samples.size == 0:
                break
            if position + samples.size < total:
                samples = samples[: quietest_cut(samples, search, window)]
            yield position / rate, samples
            position += samples.size
