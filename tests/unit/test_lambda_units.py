"""The dispatcher, UpdateStatus, the pipeline-step wrapper and the reconciler, on the in-memory fakes of the
ports (``smmu.fakes``): each runs through its real Lambda handler, JSON in and JSON out, in milliseconds."""

import json
import time
import uuid

import pytest
from pydantic import ValidationError

from lambdas.shared import context
from lambdas.shared.step import pipeline_step
from smmu.contracts import ExecutionInput, ObjectStep, ValidateInputResult
from smmu.errors import EmptyObjectError
from smmu.fakes import (
    InMemoryJobStore,
    InMemoryMediaStore,
    InMemoryMultipartUploads,
    InMemoryObjects,
    InMemoryWorkflows,
)
from smmu.jobs import JobStatus, Output
from smmu.settings import get_settings
from tests.conftest import LambdaContext, make_job

pytestmark = pytest.mark.unit


CTX = LambdaContext()


@pytest.fixture
def fakes():
    adapters = context.Adapters(
        jobs=InMemoryJobStore(),
        media=InMemoryMediaStore(),
        workflows=InMemoryWorkflows(),
        uploads=InMemoryMultipartUploads(),
        objects=InMemoryObjects(),
    )
    context.install(adapters)
    yield adapters
    context.install(None)


# -- dispatcher -------------------------------------------------------------------------------------------


def sqs_record(body: dict | str, message_id: str | None = None) -> dict:
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "handle",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1700000000000",
            "SenderId": "s3",
            "ApproximateFirstReceiveTimestamp": "1700000000000",
        },
        "messageAttributes": {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:smmu-jobs",
        "awsRegion": "us-east-1",
    }


def s3_event(
    key: str, size: int = 10, bucket: str = "smmu-raw", name: str = "ObjectCreated:Post", etag: str | None = None
) -> dict:
    # As emulators send it: without the userIdentity / requestParameters that AWS adds.
    obj = {"key": key, "size": size, **({"eTag": etag} if etag else {})}
    return {"Records": [{"eventName": name, "s3": {"bucket": {"name": bucket}, "object": obj}}]}


def dispatch(*records: dict) -> dict:
    from lambdas.dispatcher.handler import lambda_handler

    return lambda_handler({"Records": list(records)}, CTX)


def test_an_upload_event_queues_the_job_and_starts_one_execution(fakes):
    job_id = make_job(fakes.jobs)
    event = s3_event(f"uploads/default/{job_id}/a.jpg", size=7)
    assert dispatch(sqs_record(event)) == {"batchItemFailures": []}
    job = fakes.jobs.get(job_id)
    assert (job.status, job.uploaded_bytes, job.execution_name, job.expires_at) == (JobStatus.QUEUED, 7, job_id, None)
    assert fakes.workflows.executions[job_id] == ExecutionInput(
        job_id=job_id,
        bucket="smmu-raw",
        key=f"uploads/default/{job_id}/a.jpg",
        worker_heartbeat_seconds=get_settings().worker_heartbeat_timeout_seconds,
    )
    # A redelivered event changes nothing and starts nothing.
    assert dispatch(sqs_record(event)) == {"batchItemFailures": []}
    assert len(fakes.workflows.executions) == 1
    assert [e.step for e in fakes.jobs.get(job_id).timeline] == ["UploadRequested", "UploadReceived"]


def test_a_later_upload_to_the_same_key_is_ignored_with_a_timeline_entry(fakes):
    job_id = make_job(fakes.jobs)
    key = f"uploads/default/{job_id}/a.jpg"
    dispatch(sqs_record(s3_event(key, size=7, etag="first")))
    assert fakes.jobs.get(job_id).upload_etag == "first"
    dispatch(sqs_record(s3_event(key, size=9, etag="second")))
    job = fakes.jobs.get(job_id)
    assert (job.upload_etag, job.uploaded_bytes) == ("first", 7)
    assert [e.step for e in job.timeline] == ["UploadRequested", "UploadReceived", "UploadIgnored"]
    assert len(fakes.workflows.executions) == 1
    dispatch(sqs_record(s3_event(key, size=7, etag="first")))  # a redelivery of the accepted upload: no entry
    assert [e.step for e in fakes.jobs.get(job_id).timeline].count("UploadIgnored") == 1


def test_event_keys_are_url_decoded(fakes):
    job_id = make_job(fakes.jobs)
    fakes.jobs.update_fields(job_id, {"raw_key": f"uploads/default/{job_id}/my photo.jpg"})
    dispatch(sqs_record(s3_event(f"uploads/default/{job_id}/my+photo.jpg")))
    assert fakes.jobs.get(job_id).status is JobStatus.QUEUED


def test_a_queued_job_without_an_execution_gets_one_on_redelivery(fakes):
    job_id = make_job(fakes.jobs, status=JobStatus.QUEUED)
    dispatch(sqs_record(s3_event(f"uploads/default/{job_id}/a.jpg")))
    assert job_id in fakes.workflows.executions


@pytest.mark.parametrize(
    "body",
    [
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "smmu-raw"},
        s3_event("elsewhere/file.jpg"),
        s3_event(f"uploads/default/{uuid.uuid4()}/a.jpg"),  # a job that does not exist (expired)
        s3_event("uploads/x/a.jpg", name="ObjectRemoved:Delete"),
    ],
    ids=["test-event", "outside-the-scheme", "unknown-job", "not-a-creation"],
)
def test_events_that_are_not_uploads_of_a_job_are_ignored(fakes, body):
    assert dispatch(sqs_record(body)) == {"batchItemFailures": []}
    assert fakes.workflows.executions == {}


def test_an_upload_to_another_location_than_the_jobs_is_ignored(fakes):
    job_id = make_job(fakes.jobs)
    dispatch(sqs_record(s3_event(f"uploads/default/{job_id}/a.jpg", bucket="another-bucket")))
    assert fakes.jobs.get(job_id).status is JobStatus.PENDING_UPLOAD


def test_a_malformed_message_fails_alone(fakes):
    job_id = make_job(fakes.jobs)
    good = sqs_record(s3_event(f"uploads/default/{job_id}/a.jpg"))
    bad = sqs_record("{not json", message_id="bad-1")
    assert dispatch(good, bad) == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}
    assert fakes.jobs.get(job_id).status is JobStatus.QUEUED


# -- UpdateStatus ----------------------------------------------------------------------------------------


def update(payload: dict) -> dict:
    from lambdas.update_status.handler import lambda_handler

    return lambda_handler(payload, CTX)


def output(kind: str, key: str) -> dict:
    return {"kind": kind, "key": key, "content_type": "image/jpeg", "size_bytes": 3, "width": 2}


def test_update_status_runs_completes_and_refuses_to_go_back(fakes):
    job_id = make_job(fakes.jobs, status=JobStatus.QUEUED)
    assert update({"job_id": job_id, "status": "RUNNING"}) == {
        "job_id": job_id,
        "status": "RUNNING",
        "changed": True,
        "current_status": "RUNNING",
        "proceed": True,
    }
    groups = [{"outputs": [output("video", "jobs/x/v.mp4")]}, {"outputs": [output("transcript", "jobs/x/t.json")]}]
    assert update({"job_id": job_id, "status": "COMPLETED", "output_groups": groups})["changed"]
    job = fakes.jobs.get(job_id)
    assert job.status is JobStatus.COMPLETED and job.completed_at
    assert [o.key for o in job.outputs] == ["jobs/x/v.mp4", "jobs/x/t.json"]
    assert job.outputs[0] == Output.model_validate(output("video", "jobs/x/v.mp4"))
    late = update({"job_id": job_id, "status": "FAILED", "failed_step": "X", "error": {"Error": "States.Timeout"}})
    assert late == {
        "job_id": job_id,
        "status": "FAILED",
        "changed": False,
        "current_status": "COMPLETED",
        "proceed": False,
    }
    assert fakes.jobs.get(job_id).status is JobStatus.COMPLETED


def test_update_status_tells_the_state_machine_to_stop_for_a_cancelled_deleted_or_retried_job(fakes):
    cancelled = make_job(fakes.jobs, status=JobStatus.QUEUED)
    fakes.jobs.transition(cancelled, JobStatus.CANCELLED)
    answer = update({"job_id": cancelled, "status": "RUNNING", "attempt": 1})
    assert (answer["changed"], answer["proceed"], answer["current_status"]) == (False, False, "CANCELLED")
    answer = update({"job_id": str(uuid.uuid4()), "status": "RUNNING", "attempt": 1})
    assert (answer["changed"], answer["proceed"]) == (False, False) and "current_status" not in answer
    # The job moved on to attempt 2: the first attempt's updates change nothing and stop its execution.
    retried = make_job(fakes.jobs, status=JobStatus.FAILED)
    assert fakes.jobs.restart(retried, attempt=2)
    answer = update({"job_id": retried, "status": "RUNNING", "attempt": 1})
    assert (answer["changed"], answer["proceed"]) == (False, False)
    assert update({"job_id": retried, "status": "RUNNING", "attempt": 2})["proceed"]
    late = {"job_id": retried, "status": "FAILED", "attempt": 1, "failed_step": "X", "error": {"Error": "E"}}
    assert not update(late)["changed"]
    job = fakes.jobs.get(retried)
    assert (job.status, job.attempt, job.timeline[-1].attempt) == (JobStatus.RUNNING, 2, 2)


def test_update_status_fails_a_job_with_a_stable_code_and_readable_reason(fakes):
    job_id = make_job(fakes.jobs, status=JobStatus.RUNNING)
    cause = json.dumps({"errorType": "EmptyObjectError", "errorMessage": "the uploaded file is empty (0 bytes)"})
    error = {"Error": "EmptyObjectError", "Cause": cause}
    update({"job_id": job_id, "status": "FAILED", "failed_step": "ValidateInput", "error": error})
    job = fakes.jobs.get(job_id)
    assert job.status is JobStatus.FAILED
    assert (job.error.step, job.error.code) == ("ValidateInput", "EMPTY_FILE")
    assert job.error.message == "ValidateInput failed: the uploaded file is empty (0 bytes)"


def test_update_status_refuses_a_status_the_state_machine_may_not_set(fakes):
    job_id = make_job(fakes.jobs)
    with pytest.raises(ValidationError):
        update({"job_id": job_id, "status": "QUEUED"})
    assert fakes.jobs.get(job_id).status is JobStatus.PENDING_UPLOAD


# -- @pipeline_step ---------------------------------------------------------------------------------------


@pipeline_step("Probe")
def probe_step(event: ObjectStep, context: object) -> ValidateInputResult:
    if event.key.endswith("empty"):
        raise EmptyObjectError("the uploaded file is empty (0 bytes)")
    return ValidateInputResult(size_bytes=len(event.key))


def test_a_step_parses_its_input_records_its_outcome_and_serialises_its_result(fakes):
    job_id = make_job(fakes.jobs)
    result = probe_step({"job_id": job_id, "bucket": "b", "key": "k" * 5, "from_a_newer_sender": 1}, CTX)
    assert result == {"size_bytes": 5}
    last = fakes.jobs.get(job_id).timeline[-1]
    assert (last.step, last.outcome) == ("Probe", "succeeded") and last.duration_ms is not None


def test_a_failing_step_records_why_and_raises_for_step_functions(fakes):
    job_id = make_job(fakes.jobs)
    with pytest.raises(EmptyObjectError):
        probe_step({"job_id": job_id, "bucket": "b", "key": "empty"}, CTX)
    last = fakes.jobs.get(job_id).timeline[-1]
    assert (last.step, last.outcome, last.detail) == ("Probe", "failed", "the uploaded file is empty (0 bytes)")


def test_a_step_refuses_input_that_breaks_its_contract(fakes):
    with pytest.raises(ValidationError, match="bucket"):
        probe_step({"job_id": "j", "key": "k"}, CTX)


def test_a_step_still_answers_when_the_timeline_cannot_be_written(fakes):
    # No such job: the timeline write is refused, the step's result stands.
    assert probe_step({"job_id": str(uuid.uuid4()), "bucket": "b", "key": "kk"}, CTX) == {"size_bytes": 2}


# -- reconciler -------------------------------------------------------------------------------------------


def reconcile(grace_seconds: int | None) -> dict:
    from lambdas.reconcile.handler import lambda_handler

    return lambda_handler({} if grace_seconds is None else {"grace_seconds": grace_seconds}, CTX)


def test_the_reconciler_settles_stuck_jobs_from_their_executions(fakes):
    queued_without_execution = make_job(fakes.jobs, status=JobStatus.QUEUED)
    running_without_execution = make_job(fakes.jobs, status=JobStatus.RUNNING)
    lost = make_job(fakes.jobs, status=JobStatus.RUNNING)
    fakes.workflows.start(ExecutionInput(job_id=lost, bucket="b", key="k", worker_heartbeat_seconds=1))
    fakes.workflows.finish(lost, "TIMED_OUT")
    long_running = make_job(fakes.jobs, status=JobStatus.RUNNING)
    fakes.workflows.start(ExecutionInput(job_id=long_running, bucket="b", key="k", worker_heartbeat_seconds=1))
    done = make_job(fakes.jobs, status=JobStatus.COMPLETED)
    time.sleep(0.002)

    report = reconcile(0)

    assert report["checked"] == 4
    assert report["restarted"] == [queued_without_execution]
    assert set(report["failed"]) == {running_without_execution, lost}
    restarted_key = fakes.workflows.executions[queued_without_execution].key
    assert restarted_key == f"uploads/default/{queued_without_execution}/a.jpg"
    assert fakes.jobs.get(queued_without_execution).timeline[-1].detail == "execution restarted"
    never, ended = fakes.jobs.get(running_without_execution), fakes.jobs.get(lost)
    assert (never.status, never.error.code) == (JobStatus.FAILED, "WORKFLOW_LOST")
    assert never.error.message == "the workflow for this job never started"
    assert ended.error.message == "the workflow ended as TIMED_OUT without recording a result"
    assert fakes.jobs.get(long_running).status is JobStatus.RUNNING
    assert fakes.jobs.get(done).status is JobStatus.COMPLETED


def test_the_reconciler_leaves_recently_updated_jobs_alone(fakes):
    job_id = make_job(fakes.jobs, status=JobStatus.RUNNING)
    assert reconcile(None) == {
        "checked": 0,
        "restarted": [],
        "failed": [],
        "aborted_uploads": [],
        "expired_uploads": 0,
        "expired_outputs": 0,
    }
    assert fakes.jobs.get(job_id).status is JobStatus.RUNNING


def test_the_reconciler_aborts_abandoned_multipart_uploads_and_fails_their_jobs(fakes):
    from datetime import UTC, datetime, timedelta

    from lambdas.reconcile.handler import lambda_handler
    from smmu.multipart import StoredPart

    uploads = fakes.uploads
    old = datetime.now(UTC) - timedelta(hours=2)
    abandoned = make_job(fakes.jobs)
    key = fakes.jobs.get(abandoned).raw_key
    upload_id = uploads.create(key, "video/mp4", initiated=old)
    uploads.put_part(key, upload_id, StoredPart(part_number=1, size=5, etag="e1", checksum_sha256="c"))
    fakes.jobs.update_fields(abandoned, {"upload_id": upload_id, "part_size_bytes": 5})
    recent = make_job(fakes.jobs)
    recent_key = fakes.jobs.get(recent).raw_key
    recent_upload = uploads.create(recent_key, "video/mp4")
    fakes.jobs.update_fields(recent, {"upload_id": recent_upload, "part_size_bytes": 5})
    orphan_upload = uploads.create("uploads/default/not-a-job/x.mp4", "video/mp4", initiated=old)

    report = lambda_handler({"abandoned_upload_seconds": 3600}, CTX)

    assert report["aborted_uploads"] == [abandoned]
    # No parts left of the abandoned upload nor of the one no job owns; the recent one is untouched.
    assert set(uploads.uploads) == {(recent_key, recent_upload)}
    assert ("uploads/default/not-a-job/x.mp4", orphan_upload) not in uploads.uploads
    failed = fakes.jobs.get(abandoned)
    assert (failed.status, failed.error.code) == (JobStatus.FAILED, "UPLOAD_ABANDONED")
    assert fakes.jobs.get(recent).status is JobStatus.PENDING_UPLOAD


def test_the_reconciler_removes_uploads_and_outputs_past_their_retention(fakes):
    from datetime import UTC, datetime, timedelta

    from lambdas.reconcile.handler import lambda_handler

    config = get_settings()
    objects = fakes.objects
    now = datetime.now(UTC)
    objects.put(config.raw_bucket, "uploads/t/old/a.jpg", at=now - timedelta(days=8))
    objects.put(config.raw_bucket, "uploads/t/new/a.jpg", at=now - timedelta(days=6))
    objects.put(config.processed_bucket, "jobs/old/thumbnails/w160.jpg", at=now - timedelta(days=40))
    objects.put(config.processed_bucket, "jobs/new/thumbnails/w160.jpg", at=now - timedelta(days=20))
    # Defaults: uploads kept 7 days, outputs kept.
    assert lambda_handler({}, CTX)["expired_uploads"] == 1
    assert objects.keys(config.raw_bucket) == ["uploads/t/new/a.jpg"]
    assert len(objects.keys(config.processed_bucket)) == 2
    report = lambda_handler({"output_retention_days": 30}, CTX)
    assert (report["expired_uploads"], report["expired_outputs"]) == (0, 1)
    assert objects.keys(config.processed_bucket) == ["jobs/new/thumbnails/w160.jpg"]
