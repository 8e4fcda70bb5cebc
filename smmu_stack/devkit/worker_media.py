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


def speech(path: Path, text: str = SENTENCE, *, voice: str = "en") -> Path:
    """A spoken sentence (espeak-ng, in ``voice``'s language), as a WAV file."""
    subprocess.run(["espeak-ng", "-v", voice, "-s", "140", "-w", str(path), text], check=True)
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


def one_frame(path: Path, *, size: str = "320x240") -> Path:
    """A valid H.264 video of a single frame."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r=30", "-frames:v", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           str(path))  # fmt: skip
    return path


def lying_duration(source: Path, path: Path) -> Path:
    """``source`` (an MP4) whose movie header claims 0xFFFFFFFF ticks (4,294,967 s at 1 kHz); the streams'
    own durations stay true."""
    import struct

    data = bytearray(source.read_bytes())
    at = data.find(b"mvhd")
    assert at > 0 and data[at + 4] == 0, "expected a version-0 movie header"
    data[at + 20 : at + 24] = struct.pack(">I", 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


def sliver(path: Path, *, width: int, height: int, seconds: float = 1.0) -> Path:
    """A video one pixel wide or high (4:4:4, so odd sizes are encodable)."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=64x64:r=15:d={seconds}", "-vf", f"scale={width}:{height},setsar=1",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p", str(path))  # fmt: skip
    return path


def audio_only_mp4(path: Path, *, seconds: float = 2.0) -> Path:
    """An MP4 with only an AAC track (what a client may well upload as video/mp4)."""
    ffmpeg("-f", "lavfi", "-i", f"sine=f=440:d={seconds}", "-c:a", "aac", str(path))
    return path


def tone_at(path: Path, *, rate: int, channels: int, seconds: float = 2.0) -> Path:
    """A WAV tone at any sample rate and channel count (8 kHz mono, 192 kHz 7.1 ...)."""
    ffmpeg("-f", "lavfi", "-i", f"sine=f=440:d={seconds}:sample_rate={rate}", "-ac", str(channels), str(path))
    return path


def hdr_video(path: Path, *, size: str = "640x360", seconds: float = 2.0, transfer: str = "smpte2084") -> Path:
    """A 10-bit HDR clip (HEVC, BT.2020, PQ or HLG — ``transfer`` ``smpte2084`` or ``arib-std-b67``), as phones
    and cameras record it: the test picture converted into that colour space (zscale), and tagged as such."""
    convert = f"zscale=tin=bt709:pin=bt709:min=bt709:rin=tv:t={transfer}:p=bt2020:m=bt2020nc:r=tv:npl=100"
    x265 = f"log-level=error:colorprim=bt2020:transfer={transfer}:colormatrix=bt2020nc"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r=25:d={seconds}", "-f", "lavfi", "-i", f"sine=d={seconds}",
           "-vf", f"{convert},format=yuv420p10le", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", x265,
           "-color_primaries", "bt2020", "-color_trc", transfer, "-colorspace", "bt2020nc", "-tag:v", "hvc1",
           "-c:a", "aac", "-shortest", str(path))  # fmt: skip
    return path


def animated_gif(path: Path, *, size: str = "320x240", seconds: float = 2.0, rate: int = 10) -> Path:
    """An animated GIF with its own palette (as GIF makers write them)."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={seconds}",
           "-vf", "split[a][b];[a]palettegen[p];[b][p]paletteuse", "-loop", "0", str(path))  # fmt: skip
    return path


def speech_with_pauses(path: Path, sentences: list[str], *, pause_seconds: float) -> Path:
    """Sentences spoken one after another with ``pause_seconds`` of silence before each (16 kHz mono WAV)."""
    parts = []
    for i, sentence in enumerate(sentences):
        part = path.with_name(f"{path.stem}_{i}.wav")
        speech(part, sentence)
        parts.append(part)
    inputs = [arg for part in parts for arg in ("-i", str(part))]
    chain = "".join(
        f"[{i}:a]aresample=16000,aformat=channel_layouts=mono,adelay={int(pause_seconds * 1000)}:all=1[a{i}];"
        for i in range(len(parts))
    )
    joined = "".join(f"[a{i}]" for i in range(len(parts)))
    ffmpeg(*inputs, "-filter_complex", f"{chain}{joined}concat=n={len(parts)}:v=0:a=1", "-ar", "16000", "-ac", "1",
           str(path))  # fmt: skip
    for part in parts:
        part.unlink()
    return path
