"""Exact duplicates in the worker runtime, against the emulated cloud (S3, the jobs table and its content index):
what is copied, what the task answers, and when the upload is processed after all."""

import hashlib
import json
import threading
import uuid
from pathlib import Path

import pytest

from smmu.jobs import JobStatus, Output, content_key, dump
from smmu.options import ProcessingOptions
from smmu.repository import JobRepository
from smmu.settings import get_settings
from tests.conftest import make_job
from workers.runtime import Task, WorkerRuntime
from workers.settings import RuntimeSettings
from workers.transcribe.worker import SPEC as TRANSCRIBE

pytestmark = pytest.mark.integration

DATA = b"the same upload, byte for byte " + uuid.uuid4().bytes
TRANSCRIPT = {"text": "Hello there.", "language": "en", "note": None, "backend": "faster-whisper",
              "segments": [{"start": 0.0, "end": 1.0, "text": "Hello there."}]}  # fmt: skip


@pytest.fixture
def env(provisioned, monkeypatch, tmp_path):
    for name, value in provisioned.environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SMMU_TRANSCRIBE_QUEUE_URL", "http://127.0.0.1:9/unused")  # no message is received here
    get_settings.cache_clear()
    yield provisioned.environment
    get_settings.cache_clear()


@pytest.fixture
def runtime(env, tmp_path):
    worker = WorkerRuntime(TRANSCRIBE, RuntimeSettings(temp_dir=str(tmp_path / "scratch")))
    yield worker
    worker.scratch.close()


@pytest.fixture
def jobs(env, aws):
    return JobRepository(env["SMMU_JOBS_TABLE"], aws("dynamodb"))


def _original(jobs, aws, env, tenant: str, options: ProcessingOptions | None = None) -> str:
    """A completed job of ``tenant`` that had DATA, with its transcribe files (one not listed) in the bucket."""
    s3, bucket = aws("s3"), env["SMMU_PROCESSED_BUCKET"]
    job_id = make_job(jobs, status=JobStatus.COMPLETED, tenant_id=tenant)
    prefix = f"jobs/{job_id}/transcribe/"
    s3.put_object(Bucket=bucket, Key=prefix + "transcript.json", Body=json.dumps(TRANSCRIPT).encode())
    s3.put_object(Bucket=bucket, Key=prefix + "transcript.vtt", Body=b"WEBVTT\n", ContentType="text/vtt")
    s3.put_object(Bucket=bucket, Key=prefix + "extra/unlisted.bin", Body=b"referenced by a listed file")
    outputs = [
        Output(kind="transcript", key=prefix + "transcript.json", content_type="application/json", size_bytes=1),
        Output(kind="subtitles_vtt", key=prefix + "transcript.vtt", content_type="text/vtt", size_bytes=7),
        # Another branch's output: not this worker's to copy.
        Output(kind="video", key=f"jobs/{job_id}/transcode/video/360p.mp4", content_type="video/mp4", size_bytes=1),
    ]
    sha = hashlib.sha256(DATA).hexdigest()
    fields = {"sha256": sha, "content_key": content_key(tenant, sha), "outputs": [dump(o) for o in outputs]}
    jobs.update_fields(job_id, fields | ({"options": options.model_dump(mode="json")} if options else {}))
    return job_id


def _task(jobs, tmp_path, tenant: str, options: ProcessingOptions | None = None) -> tuple[Task, Path]:
    job_id = make_job(jobs, status=JobStatus.RUNNING, tenant_id=tenant)
    if options is not None:
        jobs.update_fields(job_id, {"options": options.model_dump(mode="json")})
    source = tmp_path / f"{job_id}.input"
    source.write_bytes(DATA)
    task = Task(token="t", job_id=job_id, bucket="raw", key="k", media_type="audio", message_id="m", receipt_handle="r")
    return task, source


def test_an_identical_upload_gets_copies_of_the_branchs_files_and_the_transcripts_summary(
    runtime, jobs, aws, env, tmp_path
):
    tenant = f"t{uuid.uuid4().hex[:8]}"
    original = _original(jobs, aws, env, tenant)
    task, source = _task(jobs, tmp_path, tenant)
    answer = runtime._reuse_duplicate(task, source, threading.Event())
    assert answer is not None
    prefix = f"jobs/{task.job_id}/transcribe/"
    assert [(o.kind, o.key) for o in answer.outputs] == [
        ("transcript", prefix + "transcript.json"),
        ("subtitles_vtt", prefix + "transcript.vtt"),
    ]
    assert answer.transcript == {"language": "en", "empty": False, "note": None, "segments": 1, "words": 2,
                                 "preview": "Hello there.", "backend": "faster-whisper"}  # fmt: skip
    s3, bucket = aws("s3"), env["SMMU_PROCESSED_BUCKET"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    assert sorted(o["Key"].removeprefix(prefix) for o in listed) == [
        "extra/unlisted.bin", "transcript.json", "transcript.vtt"
    ]  # fmt: skip
    assert s3.head_object(Bucket=bucket, Key=prefix + "transcript.vtt")["ContentType"] == "text/vtt"
    job = jobs.get(task.job_id)
    assert job.duplicate_of == original and job.sha256 == hashlib.sha256(DATA).hexdigest()
    [entry] = [e for e in job.timeline if e.step == "DuplicateFound"]
    assert entry.detail == f"same bytes as job {original}: its transcribe outputs reused"
    # The copies are the duplicate's own: removing the original's files leaves them.
    s3.delete_object(Bucket=bucket, Key=f"jobs/{original}/transcribe/transcript.json")
    assert (
        s3.get_object(Bucket=bucket, Key=prefix + "transcript.json")["Body"].read() == json.dumps(TRANSCRIPT).encode()
    )


def test_other_options_another_tenant_or_missing_files_mean_the_upload_is_processed(runtime, jobs, aws, env, tmp_path):
    tenant = f"t{uuid.uuid4().hex[:8]}"
    original = _original(jobs, aws, env, tenant)
    task, source = _task(jobs, tmp_path, tenant, ProcessingOptions(language="de"))
    assert runtime._reuse_duplicate(task, source, threading.Event()) is None
    assert jobs.get(task.job_id).sha256 is not None  # recorded all the same: a later upload may match it
    # A later job with the same bytes and those options is found, though an older one had other options.
    german = _original(jobs, aws, env, tenant, ProcessingOptions(language="de"))
    again, source = _task(jobs, tmp_path, tenant, ProcessingOptions(language="de"))
    assert runtime._reuse_duplicate(again, source, threading.Event()) is not None
    assert jobs.get(again.job_id).duplicate_of == german
    stranger, source = _task(jobs, tmp_path, f"other-{tenant}")
    assert runtime._reuse_duplicate(stranger, source, threading.Event()) is None

    aws("s3").delete_object(Bucket=env["SMMU_PROCESSED_BUCKET"], Key=f"jobs/{original}/transcribe/transcript.vtt")
    gone, source = _task(jobs, tmp_path, tenant)
    assert runtime._reuse_duplicate(gone, source, threading.Event()) is None
    assert jobs.get(gone.job_id).duplicate_of is None
    assert "Contents" not in aws("s3").list_objects_v2(
        Bucket=env["SMMU_PROCESSED_BUCKET"], Prefix=f"jobs/{gone.job_id}/"
    )
