"""Transcribe worker settings (``SMMU_WHISPER_*``, ``SMMU_TRANSCRIBE_*``)."""

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class TranscribeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMMU_", extra="ignore")

    whisper_backend: Literal["faster-whisper", "openai-whisper"] = "faster-whisper"
    #: ``base`` (default; multilingual, with language detection) or ``tiny.en`` (English only, faster): the
    #: models shipped as Python packages. Or a local model (CTranslate2 directory, or an openai-whisper .pt for
    #: that backend), or a model name the backend can fetch itself.
    whisper_model: str = ""
    #: Spoken language (ISO 639-1) when known; empty: detected (English-only models always say "en").
    whisper_language: str = ""
    whisper_beam_size: int = 5
    #: Voice activity detection (Silero, bundled with faster-whisper): silence and noise never reach the model,
    #: which saves its time on long pauses and keeps it from hallucinating words into them.
    whisper_vad: bool = True
    #: Silence shorter than this stays inside a speech stretch (so words are not cut apart).
    whisper_vad_min_silence_ms: int = 2000
    #: CPU threads for inference (0: the library decides).
    whisper_threads: int = 0
    #: Run the model in a child process that a cancelled task kills (workers/transcribe/isolated.py): the task
    #: stops in well under a second instead of after the 30 s window being decoded. Off: in the worker's process.
    whisper_isolated: bool = True
    #: Where converted openai-whisper checkpoints are kept (default: ~/.cache/smmu/whisper).
    whisper_cache_dir: str = ""
    #: Audio is transcribed this many seconds at a time (cut at a quiet moment), so memory does not grow with
    #: the length of the input: the working set (samples, features, the VAD's activations) scales with this.
    transcribe_chunk_seconds: float = 60.0
    #: Audio whose loudest 50 ms stays below this level is treated as silence: no model run, empty transcript.
    transcribe_silence_dbfs: float = -50.0
