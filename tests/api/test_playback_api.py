"""Playback through the API in-process against the embedded cloud: a stored master with a subtitle rendition
(as the video worker writes one), followed as a player follows it; tokens that must not work."""

import os
import time
import uuid

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient

from api import playback
from smmu.jobs import JobStatus, Output, TimelineEntry, dump
from smmu.keys import output_key
from smmu.repository import JobRepository
from tests.conftest import make_job

pytestmark = pytest.mark.integration
TENANT = "api-tests"  # the tenant of the api fixture's key

FILES = {
    "transcode/hls/master.m3u8": "#EXTM3U\n"
    '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",URI="../../transcribe/hls/en.m3u8"\n'
    '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,SUBTITLES="subs"\n360p.m3u8\n',
    "transcode/hls/360p.m3u8": "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n360p_0000.ts\n#EXTINF:1.0,\n"
    "360p_0001.ts\n#EXT-X-ENDLIST\n",
    "transcode/hls/360p_0000.ts": "segment zero",
    "transcode/hls/360p_0001.ts": "segment one",
    "transcribe/hls/en.m3u8": "#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3.0,\n../transcript.vtt\n#EXT-X-ENDLIST\n",
    "transcribe/transcript.vtt": "WEBVTT\n\n00:00.000 --> 00:02.000\nHello\n",
}


def _job(provisioned, aws, *, complete: bool = True, files: dict[str, str] = FILES) -> str:
    jobs = JobRepository(provisioned.environment["SMMU_JOBS_TABLE"], aws("dynamodb"))
    job_id = make_job(jobs, status=JobStatus.RUNNING, tenant_id=TENANT)
    s3 = aws("s3")
    for name, body in files.items():
        s3.put_object(Bucket=provisioned.environment["SMMU_PROCESSED_BUCKET"], Key=output_key(job_id, name), Body=body)
    if complete:
        master = {
            "kind": "hls_master",
            "key": output_key(job_id, "transcode/hls/master.m3u8"),
            "content_type": "application/vnd.apple.mpegurl",
            "size_bytes": 10,
        }
        entry = TimelineEntry(step="Completed", outcome="info")
        assert jobs.transition(job_id, JobStatus.COMPLETED, entry=entry, fields={"outputs": [dump(Output(**master))]})
    return job_id


def test_a_player_follows_the_master_to_every_file_with_no_header(api, provisioned, aws):
    job_id = _job(provisioned, aws)
    answer = api.get(f"/v1/jobs/{job_id}/playback")
    assert answer.status_code == 200, answer.text
    player = TestClient(api.app)  # no Authorization header
    master = player.get(answer.json()["hls_url"])
    assert master.status_code == 200, master.text
    subtitles_url = master.text.split('URI="')[1].split('"')[0]
    rendition_url = master.text.strip().splitlines()[-1]
    rendition = player.get(rendition_url)
    subtitles = player.get(subtitles_url)
    assert rendition.status_code == subtitles.status_code == 200
    segments = [line for line in rendition.text.splitlines() if line.startswith("http")]
    assert [httpx.get(url, timeout=10).text for url in segments] == ["segment zero", "segment one"]
    [vtt_url] = [line for line in subtitles.text.splitlines() if line.startswith("http")]
    assert httpx.get(vtt_url, timeout=10).text.startswith("WEBVTT")
    assert httpx.get(vtt_url.split("?")[0], timeout=10).status_code == 403  # the bucket is private


def test_expired_tokens_unfinished_jobs_and_missing_files_are_refused(api, provisioned, aws):
    job_id = _job(provisioned, aws)
    player = TestClient(api.app)
    expired = jwt.encode(
        {"sub": job_id, "tid": TENANT, "aud": playback.AUDIENCE, "exp": int(time.time()) - 5},
        os.environ["SMMU_PLAYBACK_SECRET"],
        algorithm="HS256",
    )
    refused = player.get(f"/v1/playback/{expired}/transcode/hls/master.m3u8")
    assert refused.status_code == 403 and "expired or altered" in refused.json()["detail"]
    # A token of another tenant's job (a forged tenant claim needs the secret; a stolen one still names its job).
    token, _ = playback.issue(os.environ["SMMU_PLAYBACK_SECRET"], job_id=job_id, tenant_id="other", ttl_seconds=60)
    assert player.get(f"/v1/playback/{token}/transcode/hls/master.m3u8").status_code == 404

    running = _job(provisioned, aws, complete=False)
    assert api.get(f"/v1/jobs/{running}/playback").status_code == 409
    assert api.get(f"/v1/jobs/{uuid.uuid4()}/playback").status_code == 404

    broken = dict(FILES)
    del broken["transcode/hls/360p_0001.ts"]  # a segment the playlist names but storage lacks
    incomplete = _job(provisioned, aws, files=broken)
    url = api.get(f"/v1/jobs/{incomplete}/playback").json()["hls_url"]
    assert player.get(url).status_code == 200
    missing = player.get(url.replace("master.m3u8", "360p.m3u8"))
    assert missing.status_code == 409 and "360p_0001.ts" in missing.json()["detail"]
