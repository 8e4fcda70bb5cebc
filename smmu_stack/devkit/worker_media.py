"""Real media files for the worker tests and benchmarks, made on the spot with FFmpeg's lavfi sources and espeak-ng."""

import subprocess
from pathlib import Path

SENTENCE = "Hello and welcome to the show. Today we talk about how computers turn speech into written text."


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def video(
    path: Path,
    *,
    size: str = "1280x720",
    seconds: float = 2.0,
    rate: int = 30,
    audio: bool = True,
    pix_fmt: str = "yuv420p",
    scale: str | None = None,
) -> Path:
    args = ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=f=440:d={seconds}", "-c:a", "aac", "-shortest"]
    if scale:
        args += ["-vf", f"scale={scale}"]
    ffmpeg(*args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pix_fmt, str(path))
    return path


def rotated(source: Path, path: Path, degrees: int = 90) -> Path:
    """The same stream with a rotation in its display matrix (as phones record portrait video)."""
    ffmpeg("-i", str(source), "-c", "copy", "-metadata:s:v:0", f"rotate={degrees}", str(path))
    return path


def tone(path: Path, *, seconds: float = 3.0, volume: float = 0.5, channels: int = 2) -> Path:
    ffmpeg("-f", "lavfi", "-i", f"sine=f=330:d={seconds},volume={volume}", "-ac", str(channels), str(path))
    return path


def silence(path: Path, *, seconds: float = 3.0) -> Path:
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", str(seconds), str(path))
    return path


def speech(path: Path, text: str = SENTENCE) -> Path:
    """A spoken sentence (espeak-ng), as a WAV file."""
    subprocess.run(["espeak-ng", "-s", "140", "-w", str(path), text], check=True)
    return path


def speech_video(path: Path, speech_wav: Path) -> Path:
    """A small video whose soundtrack is the spoken sentence (AAC in MP4)."""
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:r=15",
        "-i",
        str(speech_wav),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        "-shortest",
        str(path),
    )
    return path


def truncated(source: Path, path: Path, keep: int = 20000) -> Path:
    """The first bytes of an MP4 whose index (moov) is at the end: unreadable."""
    path.write_bytes(source.read_bytes()[:keep])
    return path


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level edit distance over the reference's length (case and punctuation ignored)."""

    def words(text: str) -> list[str]:
        return "".join(c.lower() if c.isalnum() or c.isspace() else " " for c in text).split()

    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1] / max(1, len(ref))
