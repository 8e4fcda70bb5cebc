"""PackageHls's handler on the emulated S3 with the DynamoDB adapters: the transcript's captions become a
SUBTITLES rendition of the master; a second run (the state machine retries an invoke that outlived its state
timeout, and the first may still run) changes nothing, and a late run after a cancel leaves nothing behind."""

import m3u8
import pytest

from lambdas.package_hls.handler import lambda_handler
from smmu.jobs import JobStatus
from tests.conftest import LambdaContext, make_job

pytestmark = pytest.mark.integration

MASTER = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2"
360p.m3u8
"""
VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nhello there\n"


def _transcoded(stores, aws, provisioned, status: JobStatus) -> tuple[str, dict]:
    """A job whose branches wrote an HLS master and a transcript; the step's event for it."""
    job_id = make_job(stores.jobs, status=status)
    bucket, s3 = provisioned.environment["SMMU_PROCESSED_BUCKET"], aws("s3")
    folder = f"jobs/{job_id}/transcode/hls"
    s3.put_object(Bucket=bucket, Key=f"{folder}/master.m3u8", Body=MASTER.encode())
    s3.put_object(Bucket=bucket, Key=f"jobs/{job_id}/transcribe/transcript.vtt", Body=VTT.encode())
    job = stores.jobs.get(job_id)
    master = {"kind": "hls_master", "key": f"{folder}/master.m3u8", "content_type": "application/vnd.apple.mpegurl",
              "size_bytes": len(MASTER), "duration_seconds": 2.0}  # fmt: skip
    vtt = {"kind": "subtitles_vtt", "key": f"jobs/{job_id}/transcribe/transcript.vtt", "content_type": "text/vtt",
           "size_bytes": len(VTT), "duration_seconds": 2.0}  # fmt: skip
    event = {
        "job_id": job_id,
        "bucket": job.raw_bucket,
        "key": job.raw_key,
        "groups": [
            {"outputs": [master], "hls": {"mpegts_start": 126000}},
            {"outputs": [vtt], "transcript": {"language": "en", "empty": False}},
        ],
    }
    return job_id, event


def _objects(aws, provisioned, job_id: str) -> dict[str, bytes]:
    bucket, s3 = provisioned.environment["SMMU_PROCESSED_BUCKET"], aws("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"jobs/{job_id}/").get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def test_captions_join_the_master_once_however_often_the_step_runs(stores, aws, provisioned):
    job_id, event = _transcoded(stores, aws, provisioned, JobStatus.RUNNING)
    first = lambda_handler(event, LambdaContext())
    stored = _objects(aws, provisioned, job_id)
    master = m3u8.loads(stored[f"jobs/{job_id}/transcode/hls/master.m3u8"].decode())
    assert [(m.type, m.language, m.uri) for m in master.media] == [("SUBTITLES", "en", "subtitles_en.m3u8")]
    assert b"hello there" in stored[f"jobs/{job_id}/transcode/hls/subtitles_en.vtt"]
    # The retried invoke, and then the late first one once the job is complete: same outputs, same files.
    assert lambda_handler(event, LambdaContext()) == first
    assert stores.jobs.transition(job_id, JobStatus.COMPLETED)
    assert lambda_handler(event, LambdaContext()) == first
    assert _objects(aws, provisioned, job_id) == stored
    assert first["language"] == "en"
    assert sum(o["kind"] == "hls_subtitles" for g in first["output_groups"] for o in g["outputs"]) == 1


def test_a_late_run_after_a_cancel_leaves_nothing_of_the_job(stores, aws, provisioned):
    job_id, event = _transcoded(stores, aws, provisioned, JobStatus.CANCELLED)
    assert lambda_handler(event, LambdaContext())["output_groups"] == []
    assert _objects(aws, provisioned, job_id) == {}
