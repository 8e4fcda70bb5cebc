"""Cancel, retry and delete (``smmu.lifecycle``) on the in-memory fakes of the ports, and the status rules they
rely on: CANCELLED is terminal, a retry is a new attempt, a late update of an earlier attempt changes nothing."""

import itertools

import pytest

from smmu.contracts import ExecutionInput
from smmu.fakes import (
    InMemoryDeliveries,
    InMemoryJobStore,
    InMemoryMediaStore,
    InMemoryMultipartUploads,
    InMemoryObjects,
    InMemoryWorkflows,
)
from smmu.jobs import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    JobError,
    JobStatus,
    Output,
    TimelineEntry,
    can_transition,
    dump,
    execution_name,
    fail_job,
)
from smmu.lifecycle import JobConflict, JobLifecycle, JobNotFound, execution_input, output_prefix
from smmu.options import ProcessingOptions
from smmu.settings import Settings
from smmu.webhooks import Delivery, delivery_id, event_id
from tests.conftest import make_job

pytestmark = pytest.mark.unit

SETTINGS = Settings()
TENANT = "acme"


@pytest.fixture
def life() -> JobLifecycle:
    return JobLifecycle(
        jobs=InMemoryJobStore(),
        media=InMemoryMediaStore(),
        workflows=InMemoryWorkflows(),
        objects=InMemoryObjects(),
        uploads=InMemoryMultipartUploads(),
        deliveries=InMemoryDeliveries(),
        settings=SETTINGS,
    )


def running_job(life: JobLifecycle, status: JobStatus = JobStatus.RUNNING) -> str:
    """A job whose upload arrived and whose execution runs; two outputs written so far."""
    job_id = make_job(life.jobs, status, tenant_id=TENANT)
    job = life.jobs.get(job_id)
    assert job is not None
    life.jobs.update_fields(job_id, {"upload_etag": "etag", "uploaded_bytes": 10, "execution_name": job_id})
    life.objects.put(job.raw_bucket, job.raw_key)  # type: ignore[attr-defined]
    life.workflows.start(execution_input(job, SETTINGS))
    for name in ("transcode/video/720p.mp4", "transcode/hls/master.m3u8"):
        life.objects.put(SETTINGS.processed_bucket, output_prefix(job_id) + name)  # type: ignore[attr-defined]
    return job_id


# -- the transition table ---------------------------------------------------------------------------------


@pytest.mark.parametrize("current", list(JobStatus))
def test_cancelled_is_reached_from_every_active_status_and_from_nothing_else(current):
    assert can_transition(current, JobStatus.CANCELLED) == (current in ACTIVE_STATUSES)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(sorted(TERMINAL_STATUSES), list(JobStatus))))
def test_no_transition_leaves_a_terminal_status(current, target):
    assert not can_transition(current, target)


def test_a_cancelled_job_refuses_the_late_completion_of_its_execution():
    jobs = InMemoryJobStore()
    job_id = make_job(jobs, JobStatus.RUNNING)
    assert jobs.transition(job_id, JobStatus.CANCELLED)
    assert not jobs.transition(job_id, JobStatus.COMPLETED)
    assert not fail_job(jobs, job_id, JobError(step="Transcode", code="WORKER_ERROR", message="x"), timeline_step="F")
    assert jobs.get(job_id).status is JobStatus.CANCELLED


def test_execution_names_are_unique_per_attempt():
    assert execution_name("j", 1) == "j"
    assert execution_name("j", 2) == "j-2"


# -- cancel -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING])
def test_cancel_stops_the_execution_and_removes_the_outputs(life, status):
    job_id = running_job(life, status)
    report = life.cancel(job_id, TENANT)
    assert report.status is JobStatus.CANCELLED and report.execution_stopped and report.outputs_removed == 2
    job = life.jobs.get(job_id)
    assert job.status is JobStatus.CANCELLED and job.completed_at
    assert job.timeline[-1].step == "Cancelled"
    assert life.workflows.status(job_id) == "ABORTED"
    assert life.objects.keys(SETTINGS.processed_bucket) == []
    # The raw upload stays: a cancelled job can be retried.
    assert life.objects.exists(job.raw_bucket, job.raw_key)


def test_cancel_of_a_pending_multipart_upload_aborts_it(life):
    job_id = make_job(life.jobs, tenant_id=TENANT)
    job = life.jobs.get(job_id)
    upload_id = life.uploads.create(job.raw_key, "video/mp4")
    life.jobs.update_fields(job_id, {"upload_id": upload_id})
    report = life.cancel(job_id, TENANT)
    assert not report.execution_stopped
    assert life.uploads.uploads == {}


@pytest.mark.parametrize("status", sorted(TERMINAL_STATUSES))
def test_cancel_of_an_ended_job_is_a_conflict_naming_its_status(life, status):
    job_id = make_job(life.jobs, status, tenant_id=TENANT)
    with pytest.raises(JobConflict) as caught:
        life.cancel(job_id, TENANT)
    assert caught.value.status is status
    assert status.value in str(caught.value)


def test_another_tenants_job_is_not_found(life):
    job_id = running_job(life)
    for action in (life.cancel, life.retry, life.delete):
        with pytest.raises(JobNotFound):
            action(job_id, "someone-else")
    assert life.jobs.get(job_id).status is JobStatus.RUNNING
    assert len(life.objects.keys(SETTINGS.processed_bucket)) == 2


# -- retry --------------------------------------------------------------------------------------------------


def test_retry_starts_a_new_attempt_with_a_new_execution_and_the_same_upload(life):
    job_id = running_job(life)
    fail_job(life.jobs, job_id, JobError(step="Transcode", code="WORKER_ERROR", message="boom"), timeline_step="F")
    life.jobs.update_fields(job_id, {"options": dump(ProcessingOptions(hls=False))})
    report = life.retry(job_id, TENANT)
    assert (report.attempt, report.execution_name, report.status) == (2, f"{job_id}-2", JobStatus.QUEUED)
    job = life.jobs.get(job_id)
    assert job.status is JobStatus.QUEUED and job.attempt == 2 and job.error is None and job.completed_at is None
    assert job.timeline[-1].step == "Retried" and job.timeline[-1].attempt == 2
    started = life.workflows.executions[f"{job_id}-2"]
    assert started == ExecutionInput(
        job_id=job_id,
        bucket=job.raw_bucket,
        key=job.raw_key,
        worker_heartbeat_seconds=SETTINGS.worker_heartbeat_timeout_seconds,
        attempt=2,
        options=ProcessingOptions(hls=False),
    )
    # Outputs of the failed attempt are gone before the new one writes.
    assert life.objects.keys(SETTINGS.processed_bucket) == []


def test_a_late_update_of_the_earlier_attempt_changes_nothing(life):
    job_id = running_job(life)
    life.cancel(job_id, TENANT)
    life.retry(job_id, TENANT)
    assert not life.jobs.transition(job_id, JobStatus.RUNNING, attempt=1)
    assert life.jobs.transition(job_id, JobStatus.RUNNING, attempt=2)
    assert not fail_job(
        life.jobs, job_id, JobError(step="X", code="WORKER_ERROR", message="late"), timeline_step="F", attempt=1
    )
    assert life.jobs.get(job_id).status is JobStatus.RUNNING


def test_two_retries_of_one_attempt_make_one_attempt(life):
    job_id = running_job(life)
    life.cancel(job_id, TENANT)
    life.retry(job_id, TENANT)
    with pytest.raises(JobConflict) as caught:
        life.retry(job_id, TENANT)
    assert caught.value.status is JobStatus.QUEUED
    assert sorted(life.workflows.executions) == [job_id, f"{job_id}-2"]


@pytest.mark.parametrize("status", [JobStatus.PENDING_UPLOAD, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.COMPLETED])
def test_only_failed_or_cancelled_jobs_are_retried(life, status):
    job_id = make_job(life.jobs, status, tenant_id=TENANT)
    with pytest.raises(JobConflict) as caught:
        life.retry(job_id, TENANT)
    assert caught.value.status is status


def test_retry_without_a_stored_upload_is_a_conflict(life):
    job_id = make_job(life.jobs, tenant_id=TENANT)
    fail_job(life.jobs, job_id, JobError(step="Upload", code="UPLOAD_ABORTED", message="aborted"), timeline_step="F")
    with pytest.raises(JobConflict, match="no stored upload"):
        life.retry(job_id, TENANT)
    assert life.jobs.get(job_id).attempt == 1


# -- delete -------------------------------------------------------------------------------------------------


def test_delete_of_a_running_job_cancels_it_and_leaves_nothing(life):
    job_id = running_job(life)
    job = life.jobs.get(job_id)
    life.objects.put(job.raw_bucket, job.raw_key)  # a second version of the upload
    life.media.put(job_id, "video", {"duration": 1})
    report = life.delete(job_id, TENANT)
    assert report.cancelled
    assert report.raw_objects == [job.raw_key]
    assert report.outputs_removed == 2
    assert report.records == ["job", "media"]
    assert life.workflows.status(job_id) == "ABORTED"
    assert life.jobs.get(job_id) is None and life.media.get(job_id) is None
    assert life.objects.versions == {}
    with pytest.raises(JobNotFound):
        life.delete(job_id, TENANT)


def _delivered(life: JobLifecycle, job_id: str, webhook_id: str, status: str) -> str:
    """A delivery record of the job's ``status`` event to the endpoint, as the webhooks function writes one."""
    deliveries = life.deliveries
    assert isinstance(deliveries, InMemoryDeliveries)
    event = event_id(job_id, status, 1)
    delivery = Delivery(
        delivery_id=delivery_id(webhook_id, event),
        webhook_id=webhook_id,
        tenant_id=TENANT,
        event_id=event,
        event_type=f"job.{status.lower()}",
        job_id=job_id,
        job_status=status,
        created_at="2026-12-01T00:00:00.000Z",
        updated_at="2026-12-01T00:00:00.000Z",
    )
    assert deliveries.create(delivery)
    return delivery.delivery_id


def test_delete_of_a_completed_job_keeps_other_jobs(life):
    keep = running_job(life)
    gone = running_job(life)
    life.jobs.transition(
        gone, JobStatus.COMPLETED, fields={"outputs": [dump(Output(kind="x", key="k", content_type="c", size_bytes=1))]}
    )
    kept = _delivered(life, keep, "wh_a", "CANCELLED")
    for webhook_id in ("wh_a", "wh_b"):
        _delivered(life, gone, webhook_id, "COMPLETED")
    report = life.delete(gone, TENANT)
    assert not report.cancelled and report.records == ["job"]
    # Both endpoints' deliveries of the deleted job went; the other job's stayed.
    assert report.webhook_deliveries_removed == 2
    assert list(life.deliveries.items) == [kept]  # type: ignore[attr-defined]
    assert life.jobs.get(keep) is not None
    assert all(key.startswith(output_prefix(keep)) for key in life.objects.keys(SETTINGS.processed_bucket))
    assert len(life.objects.keys(SETTINGS.processed_bucket)) == 2


def test_timeline_entries_of_later_attempts_name_them(life):
    job_id = running_job(life)
    life.jobs.record_step(job_id, TimelineEntry(step="Transcode", outcome="failed"))
    life.cancel(job_id, TENANT)
    life.retry(job_id, TENANT)
    assert [e.attempt for e in life.jobs.get(job_id).timeline][-2:] == [None, 2]
