"""Media files for the worker tests, generated once per session with FFmpeg and espeak-ng."""

from pathlib import Path

import pytest

from smmu_stack.devkit import worker_media as media
from workers import process


@pytest.fixture(scope="session")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    made: dict[str, Path] = {}
    made["video_1080"] = media.video(root / "v1080.mp4", size="1920x1080", seconds=2.0)
    made["video_720"] = media.video(root / "v720.mp4", size="1280x720", seconds=2.0)
    made["rotated"] = media.rotated(made["video_720"], root / "rotated.mp4")
    made["odd"] = media.video(root / "odd.mp4", size="640x360", scale="641:361", pix_fmt="yuv444p", audio=False)
    made["no_audio"] = media.video(root / "no_audio.mp4", size="480x270", seconds=2.0, audio=False)
    made["small"] = media.video(root / "small.mp4", size="320x240", seconds=1.0)
    made["tone"] = media.tone(root / "tone.wav")
    made["silence"] = media.silence(root / "silence.wav")
    made["speech"] = media.speech(root / "speech.wav")
    made["speech_video"] = media.speech_video(root / "speech.mp4", made["speech"])
    made["corrupt"] = media.truncated(made["video_720"], root / "corrupt.mp4")
    made["hdr"] = media.hdr_video(root / "hdr_pq.mp4")
    made["gif"] = media.animated_gif(root / "animated.gif")
    text = root / "notes.txt"
    text.write_text("not media at all\n" * 100)
    made["text"] = text
    return made


@pytest.fixture
def runner(tmp_path):
    """Runs a tool the way a worker does (stderr to a log file); returns the log's path."""

    def run(args: list[str], name: str) -> Path:
        log = tmp_path / f"{name}.log"
        process.run(args, log_path=log)
        return log

    return run
