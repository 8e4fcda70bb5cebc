"""Audio and video duplicates through the whole system: the same bytes again complete without transcoding or
transcribing, with their own copies of the first job's outputs (which outlive its deletion); a downscaled
re-encode of the video is listed as near by ``/similar`` and a different video is not."""

import re
import time
from datetime import datetime
from urllib.parse import urlsplit

import httpx
import m3u8
import pytest

from smmu_stack.devkit import worker_media as media

pytestmark = pytest.mark.e2e

#: Other tests' clips are testsrc2 with a sine or silence: this one speaks, so it has captions in its HLS master.
SENTENCE = "Copies of this clip are found."


def _get(url: str) -> bytes:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, (url, response.status_code)
    return response.content


def _completed(client, data: bytes, filename: str, options: dict | None = None) -> tuple[dict, float]:
    """The finished job and the seconds from the end of its upload to its completion."""
    body = {"filename": filename, "content_type": "video/mp4", "size_bytes": len(data), "options": options or {}}
    created = client.http.post("/v1/uploads", json=body)
    assert created.status_code == 201, created.text
    client.created.append(created.json()["job_id"])
    assert client.post_file(created.json()["upload"], data, filename).status_code in (200, 201, 204)
    uploaded = time.time()
    job = client.wait(created.json()["job_id"], timeout=240)
    assert job["status"] == "COMPLETED", job["error"]
    completed = datetime.fromisoformat(job["completed_at"].replace("Z", "+00:00")).timestamp()
    return job, completed - uploaded


def _relative(job: dict) -> dict[str, dict]:
    """The job's outputs by key below the job's own prefix (``transcode/video/360p.mp4``)."""
    prefix = f"jobs/{job['job_id']}/"
    assert all(o["key"].startswith(prefix) for o in job["outputs"]), "an output outside the job's own prefix"
    return {o["key"].removeprefix(prefix): o for o in job["outputs"]}


def _segments_play(client, job_id: str) -> int:
    """Fetch, as a player does, every playlist of the job's HLS and one segment of each: how many were read."""
    hls_url = client.http.get(f"/v1/jobs/{job_id}/playback").json()["hls_url"]
    read = 0
    playlists = [hls_url]
    while playlists:
        text = _get(playlists.pop()).decode()
        uris = [u for line in text.splitlines() for u in ([line] if line and not line.startswith("#") else [])]
        uris += re.findall(r'URI="([^"]+)"', text)
        playlists += [u for u in uris if urlsplit(u).path.endswith(".m3u8")]
        media_uris = [u for u in uris if not urlsplit(u).path.endswith(".m3u8")]
        if media_uris:
            assert _get(media_uris[0])
            read += 1
    return read


def _captions(client, job_id: str) -> str:
    """The WebVTT a player gets from the job's HLS captions rendition."""
    master = m3u8.loads(_get(client.http.get(f"/v1/jobs/{job_id}/playback").json()["hls_url"]).decode())
    [subtitles] = [m for m in master.media if m.type == "SUBTITLES"]
    return _get(m3u8.loads(_get(subtitles.uri).decode()).segments[0].uri).decode()


def test_identical_video_reuses_outputs_near_copies_are_similar_and_copies_outlive_the_original(client, tmp_path):
    speech = media.speech(tmp_path / "speech.wav", SENTENCE)
    source = tmp_path / "clip.mp4"
    media.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=640x360:r=25", "-i", str(speech), "-af", "apad", "-t", "3",
                 "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                 str(source))  # fmt: skip
    data = source.read_bytes()
    first, first_seconds = _completed(client, data, "clip.mp4")
    root = first["duplicate_of"] or first["job_id"]  # on a long-lived stack an earlier run may have sent it

    again, seconds = _completed(client, data, "clip (1).mp4")
    print(f"video: first job {first_seconds:.2f} s, identical re-upload {seconds:.2f} s from upload to COMPLETED")
    assert again["duplicate_of"] == root
    duplicate_steps = [e for e in again["timeline"] if e["step"] == "DuplicateFound"]
    assert {e["detail"].rsplit(" ", 3)[-3] for e in duplicate_steps} == {"transcode", "transcribe"}  # both branches
    assert again["language"] == first["language"] == "en"
    assert again["metadata"] == first["metadata"]
    originals, copies = _relative(first), _relative(again)
    assert sorted(copies) == sorted(originals)  # the same files, each under the duplicate's own prefix
    kinds = sorted(o["kind"] for o in copies.values())
    assert {"video", "hls_master", "hls_subtitles", "poster", "storyboard", "transcript", "subtitles_vtt"} <= set(kinds)
    assert kinds == sorted(o["kind"] for o in originals.values())
    contents = {name: _get(output["url"]) for name, output in copies.items()}
    for name, output in originals.items():
        assert contents[name] == _get(output["url"]), f"{name} differs from the original's"
    master = m3u8.loads(contents["transcode/hls/master.m3u8"].decode())
    assert [m.type for m in master.media] == ["SUBTITLES"]  # the captions once, not added a second time
    captions = _captions(client, first["job_id"])
    assert "X-TIMESTAMP-MAP=MPEGTS:" in captions and _captions(client, again["job_id"]) == captions

    # A downscaled re-encode (other bytes) is near; a different video is not; the duplicate is exact.
    smaller = tmp_path / "smaller.mp4"
    media.ffmpeg("-i", str(source), "-vf", "scale=320:180", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "30",
                 "-c:a", "aac", "-b:a", "48k", str(smaller))  # fmt: skip
    other = tmp_path / "other.mp4"
    media.ffmpeg("-f", "lavfi", "-i", "mandelbrot=s=320x180:r=25", "-t", "2",
                 "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(other))  # fmt: skip
    quick = {"transcribe": False, "hls": False}
    near, _ = _completed(client, smaller.read_bytes(), "smaller.mp4", quick)
    different, _ = _completed(client, other.read_bytes(), "other.mp4", quick)
    assert root not in (near["duplicate_of"], different["duplicate_of"])  # (an earlier run's copies may exist)
    similar = client.http.get(f"/v1/jobs/{first['job_id']}/similar").json()
    found = {j["job_id"]: j["distance"] for j in similar["near"]}
    print(f"video /similar: downscaled re-encode {found.get(near['job_id'])} bits per frame")
    assert again["job_id"] in {j["job_id"] for j in similar["exact"]}
    assert near["job_id"] in found and found[near["job_id"]] <= similar["max_distance"]
    assert different["job_id"] not in found

    # Deleting the original leaves the duplicate's files: every output and the HLS it plays.
    deleted = client.http.delete(f"/v1/jobs/{first['job_id']}")
    assert deleted.status_code == 200, deleted.text
    assert client.http.get(f"/v1/jobs/{first['job_id']}").status_code == 404
    client.created.remove(first["job_id"])
    after = client.job(again["job_id"])
    for name, output in _relative(after).items():
        assert _get(output["url"]) == contents[name], f"{name} changed after the original was deleted"
    assert _segments_play(client, again["job_id"]) >= 2  # video renditions, audio-only, captions


def test_identical_audio_with_other_options_is_processed_and_with_the_same_is_reused(client, tmp_path):
    data = media.speech(tmp_path / "speech.wav", "An audio file uploaded again.").read_bytes()

    def upload(filename: str, options: dict) -> dict:
        body = {"filename": filename, "content_type": "audio/wav", "size_bytes": len(data), "options": options}
        created = client.http.post("/v1/uploads", json=body)
        assert created.status_code == 201, created.text
        client.created.append(created.json()["job_id"])
        client.post_file(created.json()["upload"], data, filename)
        job = client.wait(created.json()["job_id"], timeout=180)
        assert job["status"] == "COMPLETED", job["error"]
        return job

    first = upload("voice.wav", {})
    root = first["duplicate_of"] or first["job_id"]
    # Without a transcript it makes other outputs: not a duplicate, though the bytes are the same.
    untranscribed = upload("voice (no text).wav", {"transcribe": False})
    assert untranscribed["duplicate_of"] != root
    assert "transcript" not in {o["kind"] for o in untranscribed["outputs"]}
    again = upload("voice (1).wav", {})
    assert again["duplicate_of"] == root
    assert sorted(_relative(again)) == sorted(_relative(first))
    assert {"audio", "waveform", "transcript"} <= {o["kind"] for o in again["outputs"]}
