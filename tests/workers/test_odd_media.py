"""Odd but valid media complete; the worker classifies what fails by whether another attempt could help."""

import signal

import pytest

from smmu_stack.devkit import worker_media as media
from workers import process
from workers.errors import ProcessingError, WorkerError, error_name
from workers.probe import probe
from workers.transcode.settings import TranscodeSettings
from workers.transcode.worker import transcode
from workers.transcribe.engine import Transcriber
from workers.transcribe.worker import transcribe

pytestmark = pytest.mark.integration

SETTINGS = TranscodeSettings(x264_preset="ultrafast", thumbnails=3)


def _kinds(artifacts) -> dict[str, int]:
    counts: dict[str, int] = {}
    for artifact in artifacts:
        if artifact.kind:
            counts[artifact.kind] = counts.get(artifact.kind, 0) + 1
    return counts


def test_a_one_frame_video_gets_every_output(tmp_path, runner):
    # Before: every thumbnail was clamped to the one frame, and ffmpeg-python refused the graph (ValueError).
    artifacts, media_info = transcode(media.one_frame(tmp_path / "one.mp4"), tmp_path / "out", runner, SETTINGS)
    assert media_info["duration_seconds"] < 0.1
    assert _kinds(artifacts) == {
        "video": 1,
        "hls_playlist": 1,
        "hls_master": 1,
        "poster": 1,
        "thumbnail": 3,
        "storyboard": 1,
        "storyboard_sheet": 1,
    }
    thumbs = [a for a in artifacts if a.kind == "thumbnail"]
    assert len({a.path for a in thumbs}) == 3 and all(a.path.stat().st_size > 0 for a in thumbs)


def test_a_lying_duration_header_is_ignored_for_the_streams_own(files, tmp_path, runner):
    liar = media.lying_duration(files["video_720"], tmp_path / "liar.mp4")
    artifacts, media_info = transcode(liar, tmp_path / "out", runner, SETTINGS)
    assert media_info["duration_seconds"] == pytest.approx(2.0, abs=0.1)
    assert _kinds(artifacts)["thumbnail"] == 3
    [video] = [a for a in artifacts if a.kind == "video" and a.height == 720]
    assert probe(video.path)["duration_seconds"] == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize(("width", "height"), [(1, 96), (96, 1)])
def test_one_pixel_wide_or_high_video(tmp_path, runner, width, height):
    source = media.sliver(tmp_path / "sliver.mp4", width=width, height=height)
    artifacts, media_info = transcode(source, tmp_path / "out", runner, SETTINGS)
    assert (media_info["video"]["width"], media_info["video"]["height"]) == (width, height)
    [video] = [a for a in artifacts if a.kind == "video"]
    made = probe(video.path)["video"]
    # H.264 4:2:0 needs even sizes: the short side becomes 2 pixels, the long side is kept.
    assert (made["width"], made["height"]) == (max(2, width), max(2, height))


def test_an_audio_only_mp4_is_processed_as_audio(tmp_path, runner):
    artifacts, media_info = transcode(media.audio_only_mp4(tmp_path / "a.mp4"), tmp_path / "out", runner, SETTINGS)
    assert not media_info["has_video"] and media_info["has_audio"]
    assert _kinds(artifacts) == {"audio": 2, "waveform": 1}


@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (192000, 8)])
def test_unusual_sample_rates_and_channel_counts(tmp_path, runner, rate, channels):
    source = media.tone_at(tmp_path / "tone.wav", rate=rate, channels=channels)
    artifacts, media_info = transcode(source, tmp_path / "out", runner, SETTINGS)
    assert (media_info["audio"]["sample_rate"], media_info["audio"]["channels"]) == (rate, channels)
    for artifact in (a for a in artifacts if a.kind == "audio"):
        made = probe(artifact.path)["audio"]
        assert made["channels"] <= 2 and made["sample_rate"] in (8000, 48000)
        assert made["duration_seconds"] == pytest.approx(2.0, abs=0.15)


def test_transcribe_takes_the_odd_ones_too(tmp_path, runner):
    transcriber = Transcriber()
    for source in (media.one_frame(tmp_path / "one.mp4"), media.tone_at(tmp_path / "t.wav", rate=192000, channels=8)):
        artifacts, transcript = transcribe(source, tmp_path / f"out-{source.stem}", runner, transcriber)
        assert {a.kind for a in artifacts} == {"transcript", "subtitles_srt", "subtitles_vtt"}
        assert transcript.empty  # no speech in either


def test_a_tool_that_refuses_its_input_is_not_retried_but_one_killed_is(tmp_path):
    with pytest.raises(ProcessingError, match="exit status 1"):
        process.run(["sh", "-c", "echo 'unsupported option' >&2; exit 1"], log_path=tmp_path / "a.log")
    with pytest.raises(WorkerError, match=f"exit status -{int(signal.SIGKILL)}"):
        process.run(["sh", "-c", "kill -9 $$"], log_path=tmp_path / "b.log")
    with pytest.raises(WorkerError, match="No space left"):
        process.run(["sh", "-c", "echo 'No space left on device' >&2; exit 1"], log_path=tmp_path / "c.log")


@pytest.mark.unit
def test_error_names_the_state_machine_routes_on():
    from smmu.errors import CorruptMediaError

    assert error_name(CorruptMediaError("x")) == "CorruptMediaError"
    assert error_name(WorkerError("x")) == "WorkerError"
    assert error_name(ValueError("setsar ... a split filter is probably required")) == "ProcessingError"
    assert error_name(KeyError("width")) == "ProcessingError"
    assert error_name(ConnectionError("reset")) == "WorkerError"
    assert error_name(RuntimeError("crashed")) == "WorkerError"
