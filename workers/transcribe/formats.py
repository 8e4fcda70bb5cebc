"""The transcript and its renderings (JSON, SRT, WebVTT). Pure."""

import re
from dataclasses import asdict, dataclass, field
from typing import Any

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    #: As Whisper writes it: with its leading space, so joining the words gives the segment's text.
    word: str
    probability: float | None = None


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()

    def shifted(self, offset: float) -> "Segment":
        return Segment(
            self.start + offset,
            self.end + offset,
            self.text,
            tuple(Word(w.start + offset, w.end + offset, w.word, w.probability) for w in self.words),
        )


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
            "segments": [_segment_json(s) for s in self.segments],
        }

    def summary(self) -> dict[str, Any]:
        """What the task's answer carries (the full text lives in the transcript file)."""
        return summary_of(self.to_json())


def summary_of(document: dict[str, Any]) -> dict[str, Any]:
    """The summary of a transcript file (``Transcript.to_json``): also what a reused transcript's task answers."""
    text = str(document.get("text") or "")
    segments = document.get("segments") or []
    return {
        "language": document.get("language"),
        "empty": not segments,
        "note": document.get("note"),
        "segments": len(segments),
        "words": len(text.split()),
        "preview": text[:200],
        "backend": document.get("backend"),
    }


def _segment_json(segment: Segment) -> dict[str, Any]:
    return {
        "start": round(segment.start, 3),
        "end": round(segment.end, 3),
        "text": segment.text,
        # Word-level timing (karaoke captions, search hits that jump to the word, editing by text).
        "words": [
            {
                **asdict(w),
                "start": round(w.start, 3),
                "end": round(w.end, 3),
                "probability": round(w.probability, 3) if w.probability is not None else None,
            }
            for w in segment.words
        ],
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


def to_vtt(segments: list[Segment], language: str | None = None) -> str:
    """WebVTT; the header names the language (``Language:`` as in WebVTT files that players and editors write),
    which the HLS master also announces for the subtitles rendition."""
    blocks = [f"{timestamp(start, '.')} --> {timestamp(end, '.')}\n{text}\n" for start, end, text in _cues(segments)]
    header = f"WEBVTT\nLanguage: {language}\n\n" if language else "WEBVTT\n\n"
    return header + "\n".join(blocks)
