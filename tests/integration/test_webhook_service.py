"""The webhooks function's decisions about progress and deleted jobs, on the emulated tables: progress is sent
only while its attempt runs, and nothing is written for a job that is gone."""

import uuid

import pytest

from lambdas.shared import context
from lambdas.webhooks import service
from smmu.fakes import InMemoryWorkflows
from smmu.jobs import JobStatus, StageProgress, now_iso
from smmu.repository import JobRepository, MediaRepository
from smmu.webhooks import (
    Delivery,
    DeliveryTask,
    JobEvent,
    WebhookEndpoint,
    delivery_id,
    event_id,
    new_secret,
    new_webhook_id,
    progress_event_id,
)
from tests.conftest import make_job

pytestmark = pytest.mark.integration


@pytest.fixture
def jobs(provisioned, aws):
    adapters = context.Adapters(
        jobs=JobRepository(provisioned.environment["SMMU_JOBS_TABLE"], aws("dynamodb")),
        media=MediaRepository(provisioned.environment["SMMU_MEDIA_TABLE"], aws("dynamodb")),
        workflows=InMemoryWorkflows(),  # not used by the webhooks function
    )
    context.install(adapters)
    yield adapters.jobs
    context.install(None)


@pytest.fixture
def tenant(jobs) -> str:
    """A tenant with one enabled endpoint subscribed to progress and completion (a loopback URL: any attempt to
    send would be refused by the SSRF guard and end the delivery failed, not skipped)."""
    tenant_id = f"t{uuid.uuid4().hex[:8]}"
    now = now_iso()
    service.webhooks().create(
        WebhookEndpoint(
            webhook_id=new_webhook_id(),
            tenant_id=tenant_id,
            url="http://127.0.0.1:9/hook",
            events=["job.progress", "job.completed"],
            secret=new_secret(),
            created_at=now,
            updated_at=now,
        )
    )
    return tenant_id


def _progress(job_id: str, tenant_id: str, attempt: int = 1) -> JobEvent:
    return JobEvent(
        event_id=progress_event_id(job_id, attempt, "transcode", 40),
        type="job.progress",
        job_id=job_id,
        tenant_id=tenant_id,
        status="RUNNING",
        attempt=attempt,
        occurred_at=now_iso(),
        progress=StageProgress(stage="transcode", percent=45.0),
    )


def test_progress_of_a_job_that_has_ended_is_not_fanned_out(jobs, tenant):
    job_id = make_job(jobs, JobStatus.RUNNING, tenant_id=tenant)
    jobs.transition(job_id, JobStatus.COMPLETED)
    event = _progress(job_id, tenant)
    assert service.fan_out(event) == 0
    (endpoint,) = service.webhooks().list(tenant)
    assert service.deliveries().get(delivery_id(endpoint.webhook_id, event.event_id)) is None


def test_events_of_a_deleted_job_are_not_fanned_out(jobs, tenant):
    job_id = make_job(jobs, JobStatus.RUNNING, tenant_id=tenant)
    jobs.delete(job_id)
    completed = JobEvent(
        event_id=event_id(job_id, "COMPLETED", 1),
        type="job.completed",
        job_id=job_id,
        tenant_id=tenant,
        status="COMPLETED",
        occurred_at=now_iso(),
    )
    assert service.fan_out(completed) == 0
    (endpoint,) = service.webhooks().list(tenant)
    assert service.deliveries().get(delivery_id(endpoint.webhook_id, completed.event_id)) is None


@pytest.mark.parametrize("moved_on", ["completed", "retried"])
def test_a_progress_delivery_whose_attempt_has_ended_is_skipped_unsent(jobs, tenant, moved_on):
    job_id = make_job(jobs, JobStatus.RUNNING, tenant_id=tenant)
    event = _progress(job_id, tenant)
    (endpoint,) = service.webhooks().list(tenant)
    now = now_iso()
    delivery = Delivery(
        delivery_id=delivery_id(endpoint.webhook_id, event.event_id),
        webhook_id=endpoint.webhook_id,
        tenant_id=tenant,
        event_id=event.event_id,
        event_type=event.type,
        job_id=job_id,
        job_status="RUNNING",
        job_attempt=1,
        occurred_at=event.occurred_at,
        progress=event.progress,
        created_at=now,
        updated_at=now,
    )
    assert service.deliveries().create(delivery)  # fanned out while the job ran
    if moved_on == "retried":  # a new attempt runs: the first attempt's progress is stale all the same
        assert jobs.transition(job_id, JobStatus.FAILED)
        assert jobs.restart(job_id, attempt=2)
        assert jobs.transition(job_id, JobStatus.RUNNING, attempt=2)
    else:
        assert jobs.transition(job_id, JobStatus.COMPLETED)
    assert service.deliver(DeliveryTask(delivery_id=delivery.delivery_id, attempt=1)) == "superseded"
    stored = service.deliveries().get(delivery.delivery_id)
    assert stored is not None and stored.state == "skipped" and stored.attempts == 1
    (attempt,) = stored.attempt_log
    assert attempt.status_code is None and attempt.error.startswith("not sent: the job is")
    assert ("RUNNING at attempt 2" if moved_on == "retried" else "COMPLETED") in attempt.error
