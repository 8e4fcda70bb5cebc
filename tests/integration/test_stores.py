"""One behavioural suite for the storage ports, run against both the DynamoDB adapters (on the emulator) and
the in-memory fakes the unit tests use: if the fakes drift from the real thing, this fails."""

import base64
import json
import time
import uuid

import pytest

from smmu.fakes import InMemoryJobStore, InMemoryMediaStore
from smmu.jobs import DEFAULT_TENANT, JobError, JobStatus, TimelineEntry, content_key, fail_job, isoformat, utcnow
from smmu.options import ProcessingOptions
from smmu.ports import JobAlreadyExistsError, JobStore, MediaStore
from smmu.repository import JobRepository, MediaRepository
from tests.conftest import make_job

pytestmark = pytest.mark.integration


def _store(request, fake, adapter, table_variable):
    """The fake, or the DynamoDB adapter on the emulator's table (the emulator starts only when needed)."""
    if request.param == "memory":
        return fake()
    provisioned, aws = request.getfixturevalue("provisioned"), request.getfixturevalue("aws")
    return adapter(provisioned.environment[table_variable], aws("dynamodb"))


@pytest.fixture(params=["memory", "dynamodb"])
def jobs(request) -> JobStore:
    return _store(request, InMemoryJobStore, JobRepository, "SMMU_JOBS_TABLE")


@pytest.fixture(params=["memory", "dynamodb"])
def media(request) -> MediaStore:
    return _store(request, InMemoryMediaStore, MediaRepository, "SMMU_MEDIA_TABLE")


def test_status_only_moves_forward(jobs):
    job_id = make_job(jobs)
    assert jobs.transition(job_id, JobStatus.QUEUED, remove=("expires_at",))
    assert not jobs.transition(job_id, JobStatus.QUEUED)  # a duplicate event
    assert jobs.transition(job_id, JobStatus.RUNNING, entry=TimelineEntry(step="Started", outcome="info"))
    assert jobs.transition(job_id, JobStatus.COMPLETED)
    assert not jobs.transition(job_id, JobStatus.FAILED)  # a late failure cannot undo a completion
    assert not jobs.transition(job_id, JobStatus.RUNNING)
    job = jobs.get(job_id)
    assert job.status is JobStatus.COMPLETED
    assert job.expires_at is None
    assert [e.step for e in job.timeline] == ["UploadRequested", "Started"]


def test_a_refused_transition_writes_nothing(jobs):
    job_id = make_job(jobs, status=JobStatus.COMPLETED)
    before = jobs.get(job_id)
    assert not jobs.transition(
        job_id, JobStatus.RUNNING, entry=TimelineEntry(step="Late", outcome="info"), fields={"media_type": "image"}
    )
    assert jobs.get(job_id) == before


def test_transition_sets_fields_and_stamps_the_update(jobs):
    job_id = make_job(jobs)
    before = jobs.get(job_id)
    time.sleep(0.002)
    assert jobs.transition(job_id, JobStatus.QUEUED, fields={"uploaded_bytes": 10}, remove=("expires_at",))
    job = jobs.get(job_id)
    assert (job.status, job.uploaded_bytes, job.expires_at) == (JobStatus.QUEUED, 10, None)
    assert job.updated_at > before.updated_at


def test_transition_of_a_missing_job_is_refused(jobs):
    assert not jobs.transition(str(uuid.uuid4()), JobStatus.QUEUED)
    assert not jobs.record_step(str(uuid.uuid4()), TimelineEntry(step="x", outcome="info"))
    assert not jobs.update_fields(str(uuid.uuid4()), {"media_type": "image"})
    assert jobs.get(str(uuid.uuid4())) is None


def test_a_job_id_is_stored_once(jobs):
    job_id = make_job(jobs)
    with pytest.raises(JobAlreadyExistsError):
        make_job(jobs, job_id=job_id)


def test_failing_a_job_records_why_and_only_once(jobs):
    job_id = make_job(jobs, status=JobStatus.RUNNING)
    error = JobError(step="DetectType", code="TYPE_MISMATCH", message="DetectType failed: not a JPEG")
    assert fail_job(jobs, job_id, error, timeline_step="Failed")
    assert not fail_job(jobs, job_id, error, timeline_step="Failed")
    job = jobs.get(job_id)
    assert (job.status, job.error, job.completed_at is not None) == (JobStatus.FAILED, error, True)
    assert [(e.step, e.detail) for e in job.timeline][-1] == ("Failed", error.message)


def test_listing_newest_first_with_pages_and_status_filter(jobs):
    created = []
    for _ in range(5):
        created.append(make_job(jobs))
        time.sleep(0.002)  # distinct millisecond timestamps
    jobs.transition(created[1], JobStatus.FAILED)
    seen, cursor = [], None
    while True:
        page, cursor = jobs.list(tenant_id=DEFAULT_TENANT, limit=2, cursor=cursor)
        assert len(page) <= 2
        seen += [j.job_id for j in page]
        if cursor is None:
            break
    mine = [j for j in seen if j in created]
    assert mine == list(reversed(created))
    failed, _ = jobs.list(status=JobStatus.FAILED, limit=100)
    assert created[1] in [j.job_id for j in failed]
    assert not {created[0], created[2]} & {j.job_id for j in failed}
    mine_failed, _ = jobs.list(tenant_id=DEFAULT_TENANT, status=JobStatus.FAILED, limit=100)
    assert created[1] in [j.job_id for j in mine_failed]
    assert not {created[0], created[2]} & {j.job_id for j in mine_failed}


def test_listing_is_per_tenant(jobs):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    theirs = make_job(jobs, tenant_id=tenant)
    mine = make_job(jobs)
    assert theirs not in [j.job_id for j in jobs.list(tenant_id=DEFAULT_TENANT, limit=100)[0]]
    assert [j.job_id for j in jobs.list(tenant_id=tenant, limit=100)[0]] == [theirs]
    # A cursor positions a listing; it never changes whose listing it is.
    own = jobs.get(mine)
    cursor = base64.urlsafe_b64encode(
        json.dumps({"job_id": own.job_id, "created_at": "9999-12-31T00:00:00.000Z"}).encode()
    ).decode()
    assert [j.job_id for j in jobs.list(tenant_id=tenant, cursor=cursor, limit=100)[0]] == [theirs]


def test_active_jobs_are_counted_per_tenant(jobs):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    for status in (None, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.COMPLETED, JobStatus.FAILED):
        make_job(jobs, status=status, tenant_id=tenant)
    make_job(jobs, status=JobStatus.RUNNING)  # another tenant's
    since = "2000-01-01T00:00:00.000Z"
    assert jobs.count_active(tenant, now=isoformat(utcnow()), since=since) == 3
    # A pending job whose upload URL has expired can no longer start work.
    assert jobs.count_active(tenant, now="2999-01-01T00:00:00.000Z", since=since) == 2


@pytest.mark.parametrize(
    "cursor",
    [
        "bm90LWEta2V5",
        base64.urlsafe_b64encode(b'{"job_id": "x"}').decode(),
        base64.urlsafe_b64encode(b'{"job_id": {"a": 1}, "created_at": "x"}').decode(),
        base64.urlsafe_b64encode(b"null").decode(),
        base64.urlsafe_b64encode(b'""').decode(),
        base64.urlsafe_b64encode(b"[" * 600 + b"]" * 600).decode(),
        base64.urlsafe_b64encode(b'{"job_id": "x", "created_at": "y", "listing": "TENANT#other"}').decode(),
    ],
)
def test_a_forged_cursor_is_refused(jobs, cursor):
    with pytest.raises(ValueError, match="cursor"):
        jobs.list(tenant_id=DEFAULT_TENANT, cursor=cursor)


def test_media_metadata_round_trips(media):
    job_id = str(uuid.uuid4())
    assert media.get(job_id) is None
    metadata = {"width": 640, "height": 480, "exif": {"FNumber": 2.8, "ISOSpeedRatings": 100}, "has_alpha": False}
    media.put(job_id, "image", metadata)
    item = media.get(job_id)
    assert (item["job_id"], item["media_type"], item["metadata"]) == (job_id, "image", metadata)
    assert isinstance(item["metadata"]["exif"]["ISOSpeedRatings"], int)


# -- the event log (docs/events.md) ---------------------------------------------------------------------------
def test_each_write_logs_its_events_once(jobs):
    job_id = make_job(jobs)
    assert jobs.transition(job_id, JobStatus.QUEUED)
    assert not jobs.transition(job_id, JobStatus.QUEUED)  # retried
    assert jobs.transition(job_id, JobStatus.RUNNING, entry=TimelineEntry(step="Started", outcome="info"))
    step = TimelineEntry(step="ValidateInput", outcome="succeeded", duration_ms=2.5)
    assert jobs.record_step(job_id, step)
    assert not jobs.record_step(job_id, step)  # retried
    assert jobs.report_progress(job_id, "transcode", 25.0)
    assert not jobs.report_progress(job_id, "transcode", 25.0)  # retried
    error = JobError(step="Transcode", code="CORRUPT_MEDIA", message="Transcode failed: no frames")
    assert fail_job(jobs, job_id, error, timeline_step="Failed")
    job = jobs.get(job_id)
    assert [(e.kind.value, e.status, e.step) for e in job.events] == [
        ("status", JobStatus.PENDING_UPLOAD, None),
        ("step", None, "UploadRequested"),
        ("status", JobStatus.QUEUED, None),
        ("status", JobStatus.RUNNING, None),
        ("step", None, "Started"),
        ("step", None, "ValidateInput"),
        ("progress", None, None),
        ("status", JobStatus.FAILED, None),
        ("step", None, "Failed"),
    ]
    assert job.events[6].progress.percent == 25.0 and job.progress == {"transcode": 25.0}
    assert job.events[7].error == error
    assert [t.step for t in job.timeline].count("ValidateInput") == 1
    assert job.events[-1].at == job.updated_at  # the write's time, which the tenant stream's index keys on
    assert not jobs.report_progress(job_id, "transcode", 50.0)  # ended


def test_progress_of_a_job_stored_without_a_progress_map(jobs):
    job_id = make_job(jobs, status=JobStatus.RUNNING)
    if isinstance(jobs, JobRepository):  # written before progress existed
        jobs._db.update_item(
            TableName=jobs.table_name, Key={"job_id": {"S": job_id}}, UpdateExpression="REMOVE progress"
        )
    assert jobs.report_progress(job_id, "transcribe", 40.0)
    assert jobs.report_progress(job_id, "transcode", 5.0)
    assert not jobs.report_progress(job_id, "transcribe", 35.0)
    assert jobs.get(job_id).progress == {"transcribe": 40.0, "transcode": 5.0}


def test_changed_since_lists_a_tenants_recently_updated_jobs_oldest_first(jobs):
    tenant = f"t{uuid.uuid4().hex[:8]}"
    before = isoformat(utcnow())
    first, second = make_job(jobs, tenant_id=tenant), make_job(jobs, tenant_id=tenant)
    make_job(jobs, tenant_id=f"o{uuid.uuid4().hex[:8]}")
    time.sleep(0.01)
    jobs.transition(first, JobStatus.QUEUED)
    assert jobs.changed_since(tenant, before) == [second, first]
    assert jobs.changed_since(tenant, jobs.get(first).updated_at) == [first]


def test_the_duplicates_index_finds_the_oldest_completed_job_with_the_same_bytes_of_the_tenant(jobs):
    tenant, other_tenant = f"t{uuid.uuid4().hex[:8]}", f"t{uuid.uuid4().hex[:8]}"
    digest = uuid.uuid4().hex * 2
    first = make_job(jobs, status=JobStatus.COMPLETED, tenant_id=tenant)
    time.sleep(0.002)
    second = make_job(jobs, status=JobStatus.COMPLETED, tenant_id=tenant)
    running = make_job(jobs, status=JobStatus.RUNNING, tenant_id=tenant)
    foreign = make_job(jobs, status=JobStatus.COMPLETED, tenant_id=other_tenant)
    assert jobs.find_completed_by_content(tenant, digest) is None
    for job_id, owner in ((second, tenant), (running, tenant), (foreign, other_tenant)):
        assert jobs.update_fields(job_id, {"sha256": digest, "content_key": content_key(owner, digest)})
    assert jobs.find_completed_by_content(tenant, digest).job_id == second  # the running one is not done
    assert jobs.update_fields(first, {"sha256": digest, "content_key": content_key(tenant, digest)})
    assert jobs.find_completed_by_content(tenant, digest).job_id == first
    assert jobs.find_completed_by_content(other_tenant, digest).job_id == foreign
    assert jobs.find_completed_by_content(tenant, "0" * 64) is None
    # With options: the oldest completed job that was processed with the same ones.
    assert jobs.update_fields(first, {"options": ProcessingOptions(ladder=[360]).model_dump(mode="json")})
    assert jobs.find_completed_by_content(tenant, digest, ProcessingOptions()).job_id == second
    assert jobs.find_completed_by_content(tenant, digest, ProcessingOptions(ladder=[360])).job_id == first
    assert jobs.find_completed_by_content(tenant, digest, ProcessingOptions(transcribe=False)) is None


def test_perceptual_hashes_are_listed_per_tenant_within_the_scan_limit(jobs):
    tenant = f"t{uuid.uuid4().hex[:8]}"
    hashed = []
    for i in range(4):
        job_id = make_job(jobs, status=JobStatus.COMPLETED, tenant_id=tenant)
        if i != 2:
            assert jobs.update_fields(job_id, {"perceptual_hash": f"{i:032x}"})
            hashed.append(job_id)
        time.sleep(0.002)
    make_job(jobs, status=JobStatus.COMPLETED, tenant_id=f"t{uuid.uuid4().hex[:8]}")
    assert {j.job_id for j in jobs.with_perceptual_hash(tenant, scan_limit=100)} == set(hashed)
    newest_two = jobs.with_perceptual_hash(tenant, scan_limit=2)  # the newest two: one of them has no hash
    assert [j.job_id for j in newest_two] == [hashed[-1]]


def test_cancelled_is_final_and_a_retry_is_one_new_attempt(jobs):
    job_id = make_job(jobs, status=JobStatus.RUNNING)
    assert not jobs.restart(job_id, attempt=2)  # a running job is not retried
    assert jobs.transition(job_id, JobStatus.CANCELLED, attempt=1)
    assert not jobs.transition(job_id, JobStatus.COMPLETED)  # the stopped execution's late update
    assert jobs.restart(job_id, attempt=2, entry=TimelineEntry(step="Retried", outcome="info", attempt=2))
    assert not jobs.restart(job_id, attempt=2)  # the same retry again
    assert not jobs.restart(job_id, attempt=3)  # nor a retry of an attempt that has not ended
    assert not jobs.transition(job_id, JobStatus.RUNNING, attempt=1)  # attempt 1's execution, late
    assert jobs.transition(job_id, JobStatus.RUNNING, attempt=2)
    job = jobs.get(job_id)
    assert (job.status, job.attempt, job.timeline[-1].attempt) == (JobStatus.RUNNING, 2, 2)


def test_options_round_trip_and_records_are_deleted(jobs, media):
    from smmu.options import ProcessingOptions

    job_id = make_job(jobs)
    chosen = ProcessingOptions(thumbnail_widths=[100], ladder=[360], hls=False, transcribe=False, language="de")
    assert jobs.update_fields(job_id, {"options": chosen.model_dump(mode="json", exclude_none=True)})
    assert jobs.get(job_id).options == chosen
    media.put(job_id, "image", {"width": 1})
    assert jobs.delete(job_id) and media.delete(job_id)
    assert jobs.get(job_id) is None and media.get(job_id) is None
    assert not jobs.delete(job_id) and not media.delete(job_id)
