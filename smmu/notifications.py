"""Announcing job status changes: a ``smmu.job`` event on the EventBridge bus for every change, and a ``JobEvent``
on the webhooks queue for the changes endpoints can subscribe to (``smmu.webhooks.WEBHOOK_EVENT_TYPES``).

``PublishingJobRepository`` is the jobs table adapter used by every writer of status (the API, the functions): it
publishes after each transition it makes, so no code path can change a status silently. It also publishes when a
transition is refused because the job already has the target status: that is a retried write whose first try
may have ended before it published, and the event's id (job id + status + attempt) makes the second publication
a no-op for webhooks (the delivery records are keyed on it) and recognisable for EventBridge consumers.
"""

import json
import logging
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from smmu import aws
from smmu.jobs import Job, JobStatus, TimelineEntry
from smmu.repository import JobRepository
from smmu.settings import Settings
from smmu.webhooks import WEBHOOK_EVENT_TYPES, JobEvent, event_id, event_type

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger("smmu.notifications")

EVENT_SOURCE = "smmu.job"
DETAIL_TYPE = "Job Status Change"


class PublishError(Exception):
    """The event bus or the webhooks queue refused a job event (after the client's own retries)."""


def job_event(job: Job) -> JobEvent:
    attempt = job.attempt
    return JobEvent(
        event_id=event_id(job.job_id, job.status, attempt),
        type=event_type(job.status),
        job_id=job.job_id,
        tenant_id=job.tenant_id,
        status=job.status.value,
        attempt=attempt,
        occurred_at=job.completed_at or job.updated_at,
    )


def event_detail(job: Job, event: JobEvent) -> dict[str, Any]:
    """What an EventBridge rule can match on and a consumer reads (no download links: they expire; the API or a
    webhook gives fresh ones)."""
    detail: dict[str, Any] = {
        "event_id": event.event_id,
        "job_id": job.job_id,
        "tenant_id": job.tenant_id,
        "status": job.status.value,
        "attempt": event.attempt,
        "at": event.occurred_at,
        "input": {
            "filename": job.filename,
            "content_type": job.content_type,
            "size_bytes": job.size_bytes,
            "media_type": job.media_type,
        },
        "outputs": [{"kind": o.kind, "key": o.key, "size_bytes": o.size_bytes} for o in job.outputs],
    }
    if job.error:
        detail["error"] = job.error.model_dump(mode="json")
    return detail


class JobEventPublisher:
    def __init__(self, *, sqs: "SQSClient", events: Any, queue_name: str, event_bus: str) -> None:
        self._sqs = sqs
        self._events = events  # an EventBridge client
        self.queue_name = queue_name
        self.event_bus = event_bus

    @cached_property
    def _queue_url(self) -> str:
        return self._sqs.get_queue_url(QueueName=self.queue_name)["QueueUrl"]

    def publish(self, job: Job) -> JobEvent:
        """Put the job's event on the bus and, if endpoints can subscribe to it, on the webhooks queue.

        PublishError if either refuses it (after the clients' own retries): the state machine retries its status
        steps on it, and the retried write publishes again (the same event id)."""
        event = job_event(job)
        try:
            answer = self._events.put_events(
                Entries=[
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": DETAIL_TYPE,
                        "Detail": json.dumps(event_detail(job, event)),
                        "EventBusName": self.event_bus,
                        "Resources": [],
                    }
                ]
            )
            if answer.get("FailedEntryCount"):
                raise PublishError(f"the event bus refused the event for job {job.job_id}: {answer.get('Entries')}")
            if event.type in WEBHOOK_EVENT_TYPES:
                self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(event.to_json()))
        except (BotoCoreError, ClientError) as exc:
            raise PublishError(f"could not publish {event.type} for job {job.job_id}: {exc}") from exc
        log.info("published %s for job %s (%s)", event.type, job.job_id, event.event_id)
        return event


class PublishingJobRepository(JobRepository):
    """The jobs table adapter that announces every status change (see the module's description)."""

    def __init__(self, table_name: str, client: "DynamoDBClient", publisher: JobEventPublisher) -> None:
        super().__init__(table_name, client)
        self.publisher = publisher

    def transition(
        self,
        job_id: str,
        target: JobStatus,
        *,
        entry: TimelineEntry | None = None,
        fields: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
        attempt: int | None = None,
        new_item: dict[str, Any] | None = None,
    ) -> bool:
        written: dict[str, Any] = {} if new_item is None else new_item
        changed = super().transition(
            job_id, target, entry=entry, fields=fields, remove=remove, attempt=attempt, new_item=written
        )
        # A refused write reads the job: it may be the retry of this very transition (see the module's description).
        job = Job.model_validate(written) if changed else self.get(job_id)
        if job is not None and job.status is target:
            self.publisher.publish(job)
        return changed

    def restart(
        self,
        job_id: str,
        *,
        attempt: int,
        entry: TimelineEntry | None = None,
        fields: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
    ) -> bool:
        """A retry's new attempt, QUEUED again: announced like any status change (its own event id)."""
        restarted = super().restart(job_id, attempt=attempt, entry=entry, fields=fields, remove=remove)
        job = self.get(job_id)
        if job is not None and job.status is JobStatus.QUEUED and job.attempt == attempt:
            self.publisher.publish(job)
        return restarted


def aws_publisher(settings: Settings) -> JobEventPublisher:
    return JobEventPublisher(
        sqs=aws.client("sqs"),
        events=aws.client("events"),
        queue_name=settings.webhook_queue,
        event_bus=settings.event_bus,
    )
