"""The transcript and its renderings (JSON, SRT, WebVTT). Pure."""

import re
from dataclasses import asdict, dataclass, field
from typing import Any

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


@dataclass
class Transcript:
    segments: list[Segment]
    language: str | None
    duration_seconds: float
    backend: str
    model: str
    language_probability: float | None = None
    #: Why the transcript is empty (no audio track, silence, no speech), for people reading it.
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(segment.text for segment in self.segments).strip()

    @property
    def empty(self) -> bool:
        return not self.segments

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "language": self.language,
            "language_probability": self.language_probability,
            "duration_seconds": round(self.duration_seconds, 3),
            "backend": self.backend,
            "model": self.model,
            "note": self.note,
            "segments": [{**asdict(s), "start": round(s.start, 3), "end": round(s.end, 3)} for s in self.segments],
        }

    def summary(self) -> dict[str, Any]:
        """What the task's answer carries (the full text lives in the transcript file)."""
        return {
            "language": self.language,
            "empty": self.empty,
            "note": self.note,
            "segments": len(self.segments),
            "words": len(self.text.split()),
            "preview": self.text[:200],
            "backend": self.backend,
        }


def _clean(text: str) -> str:
    # A blank line would end a cue early; "-->" would be read as timing.
    return _SPACE.sub(" ", text).replace("-->", "->").strip()


def timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cues(segments: list[Segment]) -> list[tuple[float, float, str]]:
    cues = []
    for segment in segments:
        text = _clean(segment.text)
        if text:
            cues.append((segment.start, max(segment.end, segment.start + 0.001), text))
    return cues


def to_srt(segments: list[Segment]) -> str:
    blocks = [
        f"{i}\n{timestamp(start, ',')} --> {timestamp(end, ',')}\n{text}\n"
        for i, (start, end, text) in enumerate(_cues(segments), 1)
    ]
    return "\n".join(blocks)


def to_vtt(segments: list[Segment]) -> str:
    blocks = [f"{timestamp(start, '.')} --> {timestamp(end, '.')}\n{text}\n" for start, end, text in _cues(segments)]
    return "WEBVTT\n\n" + "\n".join(blocks)
