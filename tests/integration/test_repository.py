import base64
import time
import uuid

import pytest

from smmu.jobs import DEFAULT_TENANT, JobStatus, TimelineEntry
from smmu.repository import JobRepository
from tests.conftest import make_job

pytestmark = pytest.mark.integration


@pytest.fixture
def jobs(provisioned) -> JobRepository:
    return JobRepository(provisioned.environment["SMMU_JOBS_TABLE"])


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


def test_transition_of_a_missing_job_is_refused(jobs):
    assert not jobs.transition(str(uuid.uuid4()), JobStatus.QUEUED)


def test_listing_newest_first_with_pages_and_status_filter(jobs):
    created = []
    for _ in range(5):
        created.append(make_job(jobs))
        time.sleep(0.002)  # distinct millisecond timestamps
    jobs.transition(created[1], JobStatus.FAILED)
    seen, cursor = [], None
    while True:
        page, cursor = jobs.list(tenant_id=DEFAULT_TENANT, limit=2, cursor=cursor)
        seen += [j.job_id for j in page]
        if cursor is None:
            break
    mine = [j for j in seen if j in created]
    assert mine == list(reversed(created))
    failed, _ = jobs.list(status=JobStatus.FAILED, limit=100)
    assert created[1] in [j.job_id for j in failed]
    assert not {created[0], created[2]} & {j.job_id for j in failed}
    mine_failed, _ = jobs.list(tenant_id=DEFAULT_TENANT, status=JobStatus.FAILED, limit=1)
    assert [j.job_id for j in mine_failed] == [created[1]]


def test_listing_is_per_tenant(jobs):
    other = make_job(jobs, tenant_id="someone-else")
    assert other not in [j.job_id for j in jobs.list(tenant_id=DEFAULT_TENANT, limit=100)[0]]
    assert [j.job_id for j in jobs.list(tenant_id="someone-else", limit=100)[0]] == [other]


@pytest.mark.parametrize(
    "cursor",
    [
        "bm90LWEta2V5",
        base64.urlsafe_b64encode(b'{"job_id": "x"}').decode(),
        base64.urlsafe_b64encode(b'{"job_id": {"a": 1}, "created_at": "x"}').decode(),
        base64.urlsafe_b64encode(b"null").decode(),
        "",
        base64.urlsafe_b64encode(b"[" * 600 + b"]" * 600).decode(),
        base64.urlsafe_b64encode(b'{"job_id": "x", "created_at": "y", "listing": "TENANT#other"}').decode(),
    ],
)
def test_a_forged_cursor_is_refused(jobs, cursor):
    with pytest.raises(ValueError, match="cursor"):
        jobs.list(tenant_id=DEFAULT_TENANT, cursor=cursor or "e30=")
