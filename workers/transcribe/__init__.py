"""Transcribe worker: speech to text (transcript JSON, SRT, VTT) with Whisper, on CPU.
``python -m workers.transcribe``."""
