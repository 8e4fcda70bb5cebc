"""Live job events (SSE) and playable HLS, through the public API as a browser or a player uses them
(docs/events.md, docs/playback.md)."""

import contextlib
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from smmu.tenants import ApiKeyStore
from smmu_stack.devkit import worker_media
from tests import media, sse
from tests.e2e.conftest import Client, Target

pytestmark = pytest.mark.e2e
MISSING_JOB = "7d8c5a39-0c39-4a42-8d62-3b1a1c1f0000"
_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')


def _tenant_client(target: Target, prefix: str) -> Client:
    tenant = f"{prefix}-{uuid.uuid4().hex[:8]}"
    keys = ApiKeyStore(target.manifest.tables["api_keys"]["name"], target.client("dynamodb"))
    token, _ = keys.create(tenant, name="event tests")
    return Client(target, api_key=token)


@pytest.fixture
def other(target) -> Iterator[Client]:
    client = _tenant_client(target, "other")
    yield client
    client.http.close()


def _statuses(events: list[sse.Event]) -> list[str]:
    return [e.data["status"] for e in events if e.event == "status"]


# -- SSE ----------------------------------------------------------------------------------------------------------
def test_a_jobs_events_arrive_in_order_and_a_reconnect_resumes_without_loss_or_duplicates(client):
    data = media.jpeg(320, 240)
    created = client.request_upload("live.jpg", "image/jpeg", len(data))
    assert created.status_code == 201, created.text
    job_id, upload = created.json()["job_id"], created.json()["upload"]
    path = f"/v1/jobs/{job_id}/events"

    # Connected while the job waits for its upload: its log so far, then the connection drops.
    first = sse.read(client.http, path, until=lambda e: e.event == "step" and e.data["step"] == "UploadRequested")
    assert [(e.event, e.data.get("status")) for e in first] == [("status", "PENDING_UPLOAD"), ("step", None)]
    assert Client.post_file(upload, data, "live.jpg").status_code in (200, 201, 204)
    # Reconnecting with the last id it saw: the rest, live, until the job ends (then the server closes).
    rest = sse.read(client.http, path, last_event_id=first[-1].id)
    whole = sse.read(client.http, path)  # the whole log at once, now that the job has ended

    assert [e.id for e in first + rest] == [e.id for e in whole]  # nothing lost, nothing twice
    assert [e.data for e in first + rest] == [e.data for e in whole]
    assert _statuses(whole) == ["PENDING_UPLOAD", "QUEUED", "RUNNING", "COMPLETED"]
    assert whole[-1].event == "step" and whole[-2].data["status"] == "COMPLETED"
    steps = [e.data["step"] for e in whole if e.event == "step" and e.data["outcome"] == "succeeded"]
    assert steps[:2] == ["ValidateInput", "DetectType"] and "ProcessImage" in steps
    assert all(e.data["job_id"] == job_id and e.data["at"] for e in whole)
    assert [int(e.id) for e in whole] == list(range(len(whole)))  # the job's log, in order, gap-free
    job = client.job(job_id)
    assert job["status"] == "COMPLETED"
    # Resuming after the end answers nothing more and closes.
    assert sse.read(client.http, path, last_event_id=whole[-1].id) == []


def test_the_tenant_stream_carries_its_own_jobs_only_in_order_and_resumes(target, other):
    mine = _tenant_client(target, "events")
    try:
        # Opened first: the stream starts now. The other tenant's job runs in the same window.
        theirs, _ = other.upload(media.jpeg(200, 200), "theirs.jpg", "image/jpeg")
        with mine.http.stream("GET", "/v1/events", timeout=60) as response:
            assert response.status_code == 200
            job_id, _ = mine.upload(media.jpeg(200, 200), "mine.jpg", "image/jpeg")
            seen: list[sse.Event] = []
            for event in sse.events(response):
                seen.append(event)
                if event.event == "status" and event.data["status"] in ("COMPLETED", "FAILED"):
                    break
        assert {e.data["job_id"] for e in seen} == {job_id}  # never the other tenant's
        assert _statuses(seen)[-3:] == ["QUEUED", "RUNNING", "COMPLETED"]
        positions = [e.id.split("~") for e in seen]  # time, job, position: the stream's order
        assert [(p[0], int(p[2])) for p in positions] == sorted((p[0], int(p[2])) for p in positions)
        resumed = sse.read(
            mine.http, "/v1/events", last_event_id=seen[1].id, until=lambda e: e.data.get("status") == "COMPLETED"
        )
        assert [e.id for e in resumed] == [e.id for e in seen[2:]]
        other.wait(theirs)
    finally:
        mine.http.close()


def test_event_streams_are_authorised_and_tenant_scoped(client, other):
    job_id, _ = client.upload(media.jpeg(64, 64), "scoped.jpg", "image/jpeg")
    stolen = other.http.get(f"/v1/jobs/{job_id}/events")
    missing = other.http.get(f"/v1/jobs/{MISSING_JOB}/events")
    assert stolen.status_code == missing.status_code == 404
    assert stolen.json()["detail"].replace(job_id, MISSING_JOB) == missing.json()["detail"]
    anonymous = httpx.get(f"{client.target.api_url}/v1/events", timeout=10)
    assert anonymous.status_code == 401
    bad = client.http.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": "not-an-id"})
    assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["detail"]
    client.wait(job_id)


# -- playback -----------------------------------------------------------------------------------------------------
def _uris(playlist: str) -> list[str]:
    found = []
    for line in playlist.splitlines():
        line = line.strip()
        if line.startswith("#"):
            found += _URI_ATTRIBUTE.findall(line)
        elif line:
            found.append(line)
    return found


def _ffprobe_reads(path: Path) -> dict[str, str]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name", "-of", "csv=p=0", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(reversed(line.split(",")) for line in out.stdout.split())


@pytest.fixture(scope="module")
def video_job(target, tmp_path_factory) -> Iterator[dict]:
    owner = Client(target)
    clip = worker_media.video(tmp_path_factory.mktemp("clip") / "clip.mp4", size="640x360", seconds=3)
    job_id, _ = owner.upload(clip.read_bytes(), "clip.mp4", "video/mp4")
    job = owner.wait(job_id, timeout=240)
    assert job["status"] == "COMPLETED", job["error"]
    yield {"job": job, "client": owner}
    owner.http.close()


def test_playback_url_plays_with_no_header_every_segment_signed_and_readable(video_job, tmp_path):
    owner, job_id = video_job["client"], video_job["job"]["job_id"]
    answer = owner.http.get(f"/v1/jobs/{job_id}/playback")
    assert answer.status_code == 200, answer.text
    hls_url = answer.json()["hls_url"]
    assert answer.json()["expires_at"] > video_job["job"]["completed_at"]
    player = httpx.Client(timeout=30)  # a player: no Authorization header, nothing but the URL
    segments: list[str] = []
    playlists = [hls_url]
    fetched = 0
    while playlists:
        url = playlists.pop()
        response = player.get(url)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        assert "no-store" in response.headers["cache-control"]
        fetched += 1
        for uri in _uris(response.text):
            assert urlsplit(uri).scheme in ("http", "https"), f"{uri} is not an absolute URL"
            is_playlist = urlsplit(uri).path.endswith(".m3u8")
            (playlists if is_playlist else segments).append(uri)
    assert fetched >= 2  # the master and at least one media playlist
    ts = [url for url in segments if urlsplit(url).path.endswith(".ts")]
    assert ts and len(ts) == len(segments)
    assert all("X-Amz-Signature=" in url for url in ts)  # presigned, short-lived
    total = 0.0
    video_segments = 0
    for index, url in enumerate(ts):
        segment = player.get(url)
        assert segment.status_code == 200, f"segment {index}: {segment.status_code}"
        path = tmp_path / f"segment{index}.ts"
        path.write_bytes(segment.content)
        streams = _ffprobe_reads(path)
        # The video renditions' segments carry H.264; the audio-only rendition's carry AAC alone.
        assert streams.get("video") == "h264" or streams == {"audio": "aac"}, (index, streams)
        video_segments += streams.get("video") == "h264"
        total += len(segment.content)
    assert video_segments > 0
    assert total > 10_000
    player.close()


def test_playback_refuses_an_altered_token_another_tenant_and_a_job_without_hls(video_job, other, client):
    owner, job_id = video_job["client"], video_job["job"]["job_id"]
    hls_url = owner.http.get(f"/v1/jobs/{job_id}/playback").json()["hls_url"]
    token = hls_url.split("/v1/playback/")[1].split("/")[0]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    assert httpx.get(hls_url.replace(token, flipped), timeout=10).status_code == 403
    assert httpx.get(hls_url.replace(token, "not-a-token"), timeout=10).status_code == 403
    # The token is for playlists of this job: not for its other files, nor for guessing paths.
    assert httpx.get(hls_url.replace("master.m3u8", "nothing.m3u8"), timeout=10).status_code == 404
    # Dot segments a client would not resolve itself (encoded): they never leave the job's files.
    escaped = hls_url.rsplit("/", 1)[0] + "/%2E%2E/%2E%2E/%2E%2E/other/hls/master.m3u8"
    assert httpx.get(escaped, timeout=10).status_code == 404
    stolen = other.http.get(f"/v1/jobs/{job_id}/playback")
    assert stolen.status_code == 404
    image_id, _ = client.upload(media.jpeg(64, 64), "still.jpg", "image/jpeg")
    assert client.wait(image_id)["status"] == "COMPLETED"
    no_hls = client.http.get(f"/v1/jobs/{image_id}/playback")
    assert no_hls.status_code == 404 and "HLS" in no_hls.json()["detail"]


def test_a_video_jobs_events_include_throttled_progress_of_each_stage(video_job):
    owner, job_id = video_job["client"], video_job["job"]["job_id"]
    events = sse.read(owner.http, f"/v1/jobs/{job_id}/events")
    progress = [e.data["progress"] for e in events if e.event == "progress"]
    for stage in ("transcode", "transcribe"):
        percents = [p["percent"] for p in progress if p["stage"] == stage]
        assert percents and percents[-1] == 100.0, (stage, percents)
        assert percents == sorted(set(percents))  # rising, never twice
        assert all(p % 5 == 0 for p in percents)  # whole 5 % steps
    assert _statuses(events)[-1] == "COMPLETED"


@pytest.mark.skipif(
    os.environ.get("SMMU_E2E_TARGET") == "aws", reason="the limit is per API replica; AWS runs several behind its ALB"
)
def test_an_api_key_holds_a_bounded_number_of_open_streams(target):
    reader = _tenant_client(target, "streams")
    limit = 10  # SMMU_EVENTS_MAX_STREAMS_PER_KEY's default
    with contextlib.ExitStack() as open_streams:
        for _ in range(limit):
            response = open_streams.enter_context(reader.http.stream("GET", "/v1/events", timeout=30))
            assert response.status_code == 200
        refused = reader.http.get("/v1/events")
        assert refused.status_code == 429 and refused.headers["retry-after"]
    # Closed streams give their slots back (the server notices the disconnect at its next poll).
    deadline = time.monotonic() + 10
    while True:
        with reader.http.stream("GET", "/v1/events", timeout=30) as again:
            if again.status_code == 200:
                break
        assert again.status_code == 429 and time.monotonic() < deadline, "closed streams kept their slots"
        time.sleep(0.2)
    reader.http.close()
