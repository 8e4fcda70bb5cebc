"""Audio and video through the whole system: Step Functions feeds the FFmpeg and Whisper worker services
through task-token queues; the outputs are checked as a player or a reader would use them."""

import json
import re
import subprocess
from pathlib import Path

import httpx
import m3u8
import pytest
from PIL import Image

from smmu_stack.devkit import worker_media as media

pytestmark = pytest.mark.e2e

SENTENCE = "The quick brown fox jumps over the lazy dog while the rain falls softly on the old stone bridge."


def _download(url: str, path: Path) -> Path:
    response = httpx.get(url, timeout=60)
    assert response.status_code == 200
    path.write_bytes(response.content)
    return path


def _probe(path: Path) -> dict:
    command = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def _of_kind(job: dict, kind: str) -> list[dict]:
    return [o for o in job["outputs"] if o["kind"] == kind]


def _transcript(job: dict, tmp_path: Path) -> dict:
    [transcript] = _of_kind(job, "transcript")
    return json.loads(_download(transcript["url"], tmp_path / "transcript.json").read_text())


def _cues(text: str) -> list[tuple[str, str, str]]:
    """(start, end, text) of each SRT or WebVTT cue."""
    pattern = r"(\d\d:\d\d:\d\d[,.]\d\d\d) --> (\d\d:\d\d:\d\d[,.]\d\d\d)\n(.+?)(?:\n\n|\Z)"
    return re.findall(pattern, text.replace("\r\n", "\n"), flags=re.S)


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> Path:
    return media.speech(tmp_path_factory.mktemp("speech") / "speech.wav", SENTENCE)


def test_video_with_speech(client, tmp_path, speech_wav):
    source = tmp_path / "talk.mp4"
    media.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=1280x720:r=25:d=10", "-i", str(speech_wav),
                 "-af", "apad", "-t", "10", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                 "-c:a", "aac", str(source))  # fmt: skip
    job_id, _ = client.upload(source.read_bytes(), "talk.mp4", "video/mp4")
    job = client.wait(job_id, timeout=300)
    assert job["status"] == "COMPLETED", job["error"]
    assert job["media_type"] == "video"

    renditions = _of_kind(job, "video")
    assert sorted(r["height"] for r in renditions) == [360, 480, 720]  # no 1080: never upscaled
    for rendition in renditions:
        info = _probe(_download(rendition["url"], tmp_path / f"{rendition['height']}.mp4"))
        video = next(s for s in info["streams"] if s["codec_type"] == "video")
        assert video["codec_name"] == "h264" and video["height"] == rendition["height"]
        assert any(s["codec_type"] == "audio" and s["codec_name"] == "aac" for s in info["streams"])
        assert abs(float(info["format"]["duration"]) - 10.0) <= 0.2

    [master] = _of_kind(job, "hls_master")
    master_text = httpx.get(master["url"], timeout=30).text
    assert master_text.startswith("#EXTM3U")
    for playlist in _of_kind(job, "hls_playlist") + _of_kind(job, "hls_audio_playlist"):
        assert playlist["key"].rsplit("/", 1)[-1] in master_text
    # As a player reads it: the picture renditions, the audio-only one, and the captions in the spoken language.
    parsed = m3u8.loads(master_text)
    assert len(parsed.playlists) == len(renditions) + 1
    [audio_only] = [p for p in parsed.playlists if p.stream_info.resolution is None]
    assert audio_only.stream_info.codecs == "mp4a.40.2"
    [captions] = parsed.media
    assert (captions.type, captions.language, captions.name) == ("SUBTITLES", "en", "English")
    assert all(p.stream_info.subtitles == captions.group_id for p in parsed.playlists)
    [subtitles] = _of_kind(job, "hls_subtitles")
    assert subtitles["key"].rsplit("/", 1)[-1] == captions.uri
    subtitles_playlist = m3u8.loads(httpx.get(subtitles["url"], timeout=30).text)
    assert [s.uri for s in subtitles_playlist.segments] == ["subtitles_en.vtt"] and subtitles_playlist.is_endlist
    assert job["language"] == "en"

    assert _of_kind(job, "poster") and len(_of_kind(job, "thumbnail")) >= 1
    _check_storyboard(job, tmp_path, duration=10.0)

    transcript = _transcript(job, tmp_path)
    assert media.wer(SENTENCE, transcript["text"]) <= 0.30, transcript["text"]
    assert transcript["segments"] and all(s["end"] > s["start"] for s in transcript["segments"])
    assert transcript["language"] == "en"
    words = [w for s in transcript["segments"] for w in s["words"]]
    assert media.wer(SENTENCE, "".join(w["word"] for w in words)) <= 0.30
    assert [w["start"] for w in words] == sorted(w["start"] for w in words)
    assert all(0 <= w["start"] <= w["end"] <= 10.0 for w in words)
    [srt] = _of_kind(job, "subtitles_srt")
    [vtt] = _of_kind(job, "subtitles_vtt")
    vtt_text = httpx.get(vtt["url"], timeout=30).text
    assert vtt_text.startswith("WEBVTT")
    assert _cues(vtt_text) and _cues(httpx.get(srt["url"], timeout=30).text)

    metadata = job["metadata"]
    assert metadata["video"]["width"] == 1280 and metadata["video"]["height"] == 720
    assert abs(metadata["duration_seconds"] - 10.0) <= 0.2


@pytest.mark.parametrize("audio_format", ["wav", "mp3"])
def test_speech_audio(client, tmp_path, speech_wav, audio_format):
    source = speech_wav if audio_format == "wav" else tmp_path / "speech.mp3"
    if audio_format == "mp3":
        media.ffmpeg("-i", str(speech_wav), str(source))
    content_type = {"wav": "audio/wav", "mp3": "audio/mpeg"}[audio_format]
    job_id, _ = client.upload(source.read_bytes(), source.name, content_type)
    job = client.wait(job_id, timeout=180)
    assert job["status"] == "COMPLETED", job["error"]
    assert job["media_type"] == "audio"
    assert media.wer(SENTENCE, _transcript(job, tmp_path)["text"]) <= 0.30
    [waveform] = _of_kind(job, "waveform")
    png = _download(waveform["url"], tmp_path / "waveform.png")
    assert png.read_bytes().startswith(b"\x89PNG")
    audio = _of_kind(job, "audio")
    assert {o["content_type"] for o in audio} == {"audio/mp4", "audio/mpeg"}
    for output in audio:
        info = _probe(_download(output["url"], tmp_path / output["key"].rsplit("/", 1)[-1]))
        assert abs(float(info["format"]["duration"]) - job["metadata"]["duration_seconds"]) <= 0.2


def _check_storyboard(job: dict, tmp_path: Path, *, duration: float) -> None:
    """Every cue of the thumbnails track points inside a sprite sheet the job lists; together they cover the video."""
    [track] = _of_kind(job, "storyboard")
    sheets = {o["key"].rsplit("/", 1)[-1]: o for o in _of_kind(job, "storyboard_sheet")}
    text = httpx.get(track["url"], timeout=30).text
    cues = re.findall(
        r"(\d\d:\d\d:\d\d\.\d\d\d) --> (\d\d:\d\d:\d\d\.\d\d\d)\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)", text
    )
    assert cues and text.startswith("WEBVTT")
    sizes = {}
    for name, output in sheets.items():
        with Image.open(_download(output["url"], tmp_path / name)) as image:
            sizes[name] = image.size
    for _, _, sheet, x, y, w, h in cues:
        width, height = sizes[sheet]
        assert int(x) + int(w) <= width and int(y) + int(h) <= height
    assert cues[0][0] == "00:00:00.000" and abs(_seconds(cues[-1][1]) - duration) <= 0.2


def _seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


def test_hdr_video_comes_out_sdr_bt709(client, tmp_path):
    source = media.hdr_video(tmp_path / "hdr.mp4", seconds=2.0)
    job_id, _ = client.upload(source.read_bytes(), "hdr.mp4", "video/mp4")
    job = client.wait(job_id, timeout=180)
    assert job["status"] == "COMPLETED", job["error"]
    assert job["metadata"]["video"]["hdr"] is True
    for rendition in _of_kind(job, "video"):
        info = _probe(_download(rendition["url"], tmp_path / f"{rendition['height']}.mp4"))
        video = next(s for s in info["streams"] if s["codec_type"] == "video")
        colour = (video["pix_fmt"], video["color_space"], video["color_transfer"], video["color_primaries"])
        assert colour == ("yuv420p", "bt709", "bt709", "bt709")


def test_animated_gif_also_becomes_mp4_and_webp(client, tmp_path):
    source = media.animated_gif(tmp_path / "anim.gif", seconds=2.0)
    job_id, _ = client.upload(source.read_bytes(), "anim.gif", "image/gif")
    job = client.wait(job_id, timeout=180)
    assert job["status"] == "COMPLETED", job["error"]
    assert job["media_type"] == "image" and _of_kind(job, "thumbnail")  # the image outputs are still there
    [mp4] = _of_kind(job, "animation_mp4")
    [webp] = _of_kind(job, "animation_webp")
    info = _probe(_download(mp4["url"], tmp_path / "anim.mp4"))
    assert [s["codec_name"] for s in info["streams"]] == ["h264"]
    with Image.open(_download(webp["url"], tmp_path / "anim.webp")) as image:
        assert image.is_animated and image.n_frames == 20
    assert mp4["size_bytes"] < source.stat().st_size and webp["size_bytes"] < source.stat().st_size


def test_video_without_audio_has_an_empty_transcript(client, tmp_path):
    source = media.video(tmp_path / "silent.mp4", size="640x360", seconds=3, audio=False)
    job_id, _ = client.upload(source.read_bytes(), "silent.mp4", "video/mp4")
    job = client.wait(job_id, timeout=180)
    assert job["status"] == "COMPLETED", job["error"]
    transcript = _transcript(job, tmp_path)
    assert transcript["text"] == "" and transcript["segments"] == []
    assert "no audio track" in transcript["note"]
    assert sorted(o["height"] for o in _of_kind(job, "video")) == [360]


def test_corrupt_mp4_fails_naming_the_step(client, tmp_path):
    whole = media.video(tmp_path / "whole.mp4", size="640x360", seconds=2)
    job_id, _ = client.upload(whole.read_bytes()[:20000], "broken.mp4", "video/mp4")
    job = client.wait(job_id, timeout=180)
    assert job["status"] == "FAILED"
    assert job["error"]["step"] == "ProcessMedia"
    assert job["error"]["code"] == "CORRUPT_MEDIA"
    assert job["error"]["message"].startswith("ProcessMedia failed: ")
    assert "CorruptMediaError" not in job["error"]["message"]  # the worker's reason, not just its error name
    assert job["outputs"] == []
