"""Announcing job status changes: a ``smmu.job`` event on the EventBridge bus for every change, and a ``JobEvent``
on the webhooks queue for the changes endpoints can subscribe to (``smmu.webhooks.WEBHOOK_EVENT_TYPES``).

``PublishingJobRepository`` is the jobs table adapter used by every writer of status (the API, the functions): it
publishes after each transition it makes, so no code path can change a status silently. It also publishes when a
transition is refused because the job already has the target status: that is a retried write whose first try
may have ended before it published, and the event's id (job id + status + attempt) makes the second publication
a no-op for webhooks (the delivery records are keyed on it) and recognisable for EventBridge consumers.

``ProgressNotifier`` is what the media workers report progress through: it writes the report into the job and, at
each new step of ``webhook_progress_step_percent``, puts a ``job.progress`` event on the webhooks queue (not on the
bus: progress is not a status change).
"""

import json
import logging
from collections import OrderedDict
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from smmu import aws
from smmu.jobs import Job, JobStatus, StageProgress, TimelineEntry
from smmu.ports import JobStore
from smmu.repository import JobRepository
from smmu.settings import Settings
from smmu.webhooks import (
    PROGRESS_EVENT_TYPE,
    WEBHOOK_EVENT_TYPES,
    JobEvent,
    event_id,
    event_type,
    progress_event_id,
    progress_step,
)

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


#: How many (job, attempt, stage) a ProgressNotifier remembers the last announced step of; an older one forgotten
#: only costs a repeated announcement, which the event id makes a single delivery anyway.
REMEMBERED_STAGES = 256


class EventQueue(Protocol):
    def send(self, event: JobEvent) -> None:
        """Put the event on the webhooks queue (the webhooks function fans it out)."""


class WebhookQueue:
    """The webhooks queue, as a place to put job events."""

    def __init__(self, sqs: "SQSClient", queue_name: str) -> None:
        self._sqs = sqs
        self.queue_name = queue_name

    @cached_property
    def _queue_url(self) -> str:
        return self._sqs.get_queue_url(QueueName=self.queue_name)["QueueUrl"]

    def send(self, event: JobEvent) -> None:
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(event.to_json()))


class ProgressNotifier:
    """Records a worker's progress reports in the job and announces each new step to webhooks (``job.progress``).

    Announced only after the job took the report (it was RUNNING and the percent above the stage's last), so the
    event carries the attempt the job is at and the time of its own progress event. The event's id names the step
    (``smmu.webhooks.progress_event_id``), which makes the throttle hold across processes: a task run again at the
    same attempt reports nothing the job has not seen, and a step published twice creates one delivery.
    Announcing is best effort: progress is for people, and a queue that refuses it must not fail the work."""

    def __init__(self, jobs: JobStore, queue: EventQueue, *, step_percent: float) -> None:
        self._jobs = jobs
        self._queue = queue
        self._step_percent = step_percent
        #: The last step announced per (job, attempt, stage): what this process need not send again. Bounded: a
        #: worker runs for months and works on one task at a time.
        self._announced: OrderedDict[tuple[str, int, str], int] = OrderedDict()

    def report(self, job_id: str, stage: str, percent: float) -> bool:
        """Record the report (``JobRepository.report_progress``); True if the job took it."""
        written: dict[str, Any] = {}
        if not self._jobs.report_progress(job_id, stage, percent, new_item=written):
            return False
        if self._step_percent > 0:
            self._announce(Job.model_validate(written), stage, percent)
        return True

    def _announce(self, job: Job, stage: str, percent: float) -> None:
        step = progress_step(percent, self._step_percent)
        key = (job.job_id, job.attempt, stage)
        if self._announced.get(key, -1) >= step:
            return
        event = JobEvent(
            event_id=progress_event_id(job.job_id, job.attempt, stage, step),
            type=PROGRESS_EVENT_TYPE,
            job_id=job.job_id,
            tenant_id=job.tenant_id,
            status=job.status.value,
            attempt=job.attempt,
            # The report's own time: the same write set the job's updated_at and its progress event's time.
            occurred_at=job.updated_at,
            progress=StageProgress(stage=stage, percent=percent),
        )
        try:
            self._queue.send(event)
        except (BotoCoreError, ClientError) as exc:
            log.warning("could not announce %s%% of %s for job %s: %s", percent, stage, job.job_id, exc)
            return
        self._announced[key] = step
        self._announced.move_to_end(key)
        while len(self._announced) > REMEMBERED_STAGES:
            self._announced.popitem(last=False)


def aws_publisher(settings: Settings) -> JobEventPublisher:
    return JobEventPublisher(
        sqs=aws.client("sqs"),
        events=aws.client("events"),
        queue_name=settings.webhook_queue,
        event_bus=settings.event_bus,
    )
