"""Fan a job event out to the tenant's endpoints, and send each delivery, retrying with exponential backoff.

Retries are messages sent back to the webhooks queue with a delay (SQS holds them; nothing waits in a function),
so a slow, failing or redirecting receiver costs at most one bounded request per attempt and never holds up the
pipeline or other receivers. After ``webhook_max_attempts`` attempts, or once the next one would fall outside
``webhook_retry_window_seconds`` from the event, the delivery is marked ``failed`` and parked in the webhooks
dead-letter queue. An address the SSRF guard refuses at delivery time (the host's DNS changed since
registration) parks it at once.

Progress (``job.progress``) is for a job that is still running: it is fanned out and each attempt of it sent only
while the job is RUNNING at the event's attempt; once the job has moved on (its terminal event is on its way) a
progress delivery ends ``skipped``, unsent. Events of a job that no longer exists (deleted) are not delivered, and
delivery records written while the job was being deleted are removed again, so a deletion leaves none.
"""

import json
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import boto3

from lambdas.shared.context import jobs, logger, media, settings
from lambdas.webhooks.sender import SendResult, post
from smmu import aws
from smmu.jobs import Job, JobStatus, isoformat, now_iso, utcnow
from smmu.ssrf import UnsafeUrlError, check_url, parse_networks
from smmu.webhook_store import DeliveryRepository, WebhookRepository
from smmu.webhooks import (
    PROGRESS_EVENT_TYPE,
    Delivery,
    DeliveryAttempt,
    DeliveryTask,
    JobEvent,
    delivery_id,
    payload,
    progress_data,
    signed_headers,
)

#: SQS delays a message by at most 15 minutes.
MAX_DELAY_SECONDS = 900
#: Input metadata larger than this (e.g. long EXIF) is left out of the payload; the API has it all.
MAX_METADATA_BYTES = 16 * 1024


@cache
def webhooks() -> WebhookRepository:
    return WebhookRepository(settings().webhooks_table, aws.client("dynamodb"))


@cache
def deliveries() -> DeliveryRepository:
    return DeliveryRepository(settings().webhook_deliveries_table, aws.client("dynamodb"))


@cache
def _queue_url(name: str) -> str:
    return aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


@cache
def _presigning_s3() -> Any:
    config = settings()
    if config.public_s3_endpoint_url:
        # Signing happens locally; this client only decides which host the links name.
        return boto3.session.Session().client(
            "s3", endpoint_url=config.public_s3_endpoint_url, region_name=config.region, config=aws.CLIENT_CONFIG
        )
    return aws.client("s3")


def _enqueue(task: DeliveryTask, delay_seconds: int = 0) -> None:
    aws.client("sqs").send_message(
        QueueUrl=_queue_url(settings().webhook_queue),
        MessageBody=json.dumps(task.to_json()),
        DelaySeconds=max(0, min(delay_seconds, MAX_DELAY_SECONDS)),
    )


def _current(event: JobEvent, job: Job | None) -> bool:
    """Whether the event is still worth announcing: its job exists and, for progress, still runs that attempt."""
    if job is None:
        return False
    if event.type == PROGRESS_EVENT_TYPE:
        return job.status is JobStatus.RUNNING and job.attempt == event.attempt
    return True


def fan_out(event: JobEvent) -> int:
    """One delivery per endpoint of the tenant that subscribes to the event's type; returns how many were queued."""
    subscribed = [e for e in webhooks().list(event.tenant_id) if e.enabled and event.type in e.events]
    if not subscribed:
        return 0
    if not _current(event, jobs().get(event.job_id)):
        logger.info("job deleted, or no longer running the event's attempt; not announced", event_id=event.event_id)
        return 0
    retention = timedelta(days=settings().webhook_delivery_retention_days)
    created: list[str] = []
    tasks: list[DeliveryTask] = []
    for endpoint in subscribed:
        now = now_iso()
        delivery = Delivery(
            delivery_id=delivery_id(endpoint.webhook_id, event.event_id),
            webhook_id=endpoint.webhook_id,
            tenant_id=event.tenant_id,
            event_id=event.event_id,
            event_type=event.type,
            job_id=event.job_id,
            job_status=event.status,
            job_attempt=event.attempt,
            occurred_at=event.occurred_at,
            progress=event.progress,
            created_at=now,
            updated_at=now,
            expires_at=int((utcnow() + retention).timestamp()),
        )
        if deliveries().create(delivery):
            created.append(delivery.delivery_id)
        else:
            # The event was received before. Queue its first attempt again only if it never started (the earlier
            # receipt may have failed before queueing it); claiming the attempt drops any duplicate.
            existing = deliveries().get(delivery.delivery_id)
            if existing is None or existing.state != "pending" or existing.attempts > 0:
                logger.info("duplicate event; delivery already under way", delivery_id=delivery.delivery_id)
                continue
        tasks.append(DeliveryTask(delivery_id=delivery.delivery_id, attempt=1))
    # Deleted meanwhile: the deletion may have swept the job's deliveries before these were written, and it reads
    # the job's record last, so whichever of the two comes second removes them.
    if created and jobs().get(event.job_id) is None:
        for removed in created:
            deliveries().delete(removed)
        logger.info("job deleted while its event was fanned out; deliveries removed", event_id=event.event_id)
        return 0
    for task in tasks:
        _enqueue(task)
    return len(tasks)


def _job_data(event: JobEvent, job: Job | None) -> dict[str, Any]:
    data: dict[str, Any] = {"job_id": event.job_id, "status": event.status, "attempt": event.attempt}
    if job is None:  # deleted since
        return data
    config = settings()
    data["input"] = {
        k: v
        for k, v in {
            "filename": job.filename,
            "content_type": job.content_type,
            "size_bytes": job.size_bytes,
            "media_type": job.media_type,
            "detected_content_type": job.detected_content_type,
            "uploaded_bytes": job.uploaded_bytes,
            "checksum_sha256": job.checksum_sha256,
            "created_at": job.created_at,
        }.items()
        if v is not None
    }
    record = media().get(job.job_id)
    if record and len(json.dumps(record.get("metadata"))) <= MAX_METADATA_BYTES:
        data["input"]["metadata"] = record.get("metadata")
    if job.error:
        data["error"] = job.error.model_dump(mode="json")
    if job.completed_at:
        data["completed_at"] = job.completed_at
    expires = isoformat(utcnow() + timedelta(seconds=config.download_url_ttl_seconds))
    data["outputs"] = [
        {
            **output.model_dump(mode="json", exclude_none=True),
            "url": _presigning_s3().generate_presigned_url(
                "get_object",
                Params={"Bucket": config.processed_bucket, "Key": output.key},
                ExpiresIn=config.download_url_ttl_seconds,
            ),
            "url_expires_at": expires,
        }
        for output in job.outputs
    ]
    return data


def _park(delivery: Delivery, reason: str) -> None:
    aws.client("sqs").send_message(
        QueueUrl=_queue_url(settings().webhook_dead_letter_queue),
        MessageBody=json.dumps(
            {
                "delivery_id": delivery.delivery_id,
                "webhook_id": delivery.webhook_id,
                "event_id": delivery.event_id,
                "event_type": delivery.event_type,
                "job_id": delivery.job_id,
                "reason": reason,
            }
        ),
    )


def deliver(task: DeliveryTask) -> str:
    """Send one attempt; returns what became of it (skipped, superseded, delivered, retrying, failed)."""
    store = deliveries()
    delivery = store.get(task.delivery_id)
    if delivery is None or not store.claim(task.delivery_id, task.attempt):
        logger.info("attempt already made or delivery ended; skipped", delivery_id=task.delivery_id)
        return "skipped"
    logger.append_keys(delivery_id=delivery.delivery_id, attempt=task.attempt, job_id=delivery.job_id)
    config = settings()
    endpoint = webhooks().get(delivery.webhook_id)
    started = now_iso()
    permanent = False
    event = JobEvent(
        event_id=delivery.event_id,
        type=delivery.event_type,
        job_id=delivery.job_id,
        tenant_id=delivery.tenant_id,
        status=delivery.job_status,
        attempt=delivery.job_attempt,
        occurred_at=delivery.occurred_at or delivery.created_at,
        progress=delivery.progress,
    )
    job = jobs().get(delivery.job_id)
    if event.type == PROGRESS_EVENT_TYPE and not _current(event, job):
        # Progress is never sent once the job has left the attempt it describes: its terminal event comes next.
        status = f"{job.status.value} at attempt {job.attempt}" if job else "deleted"
        reason = f"not sent: the job is {status}; progress is sent only while its attempt runs"
        store.record(
            delivery.delivery_id,
            DeliveryAttempt(attempt=task.attempt, at=started, duration_ms=0.0, error=reason),
            "skipped",
        )
        logger.info("progress superseded; not sent", job_status=status)
        return "superseded"
    if endpoint is None or not endpoint.enabled:
        result, permanent = SendResult(None, "the endpoint was deleted or disabled", 0.0), True
    else:
        data = progress_data(event) if event.progress is not None else _job_data(event, job)
        body = json.dumps(payload(event, data), separators=(",", ":"))
        try:
            # Checked again at every attempt: the host's addresses may have changed since registration.
            checked = check_url(endpoint.url, allowed_networks=parse_networks(config.webhook_allowed_networks))
        except UnsafeUrlError as exc:
            result, permanent = SendResult(None, f"refused: {exc}", 0.0), True
        else:
            headers = signed_headers(endpoint.secret, delivery.event_id, datetime.now(UTC), body)
            result = post(
                checked,
                headers,
                body.encode(),
                timeout_seconds=config.webhook_timeout_seconds,
                max_response_bytes=config.webhook_max_response_bytes,
            )
    attempt = DeliveryAttempt(
        attempt=task.attempt,
        at=started,
        duration_ms=result.duration_ms,
        status_code=result.status_code,
        error=result.error,
    )
    if result.ok:
        store.record(delivery.delivery_id, attempt, "delivered")
        logger.info("delivered", status_code=result.status_code, duration_ms=result.duration_ms)
        return "delivered"
    delay = config.webhook_backoff_base_seconds * 2 ** (task.attempt - 1)
    next_at = utcnow() + timedelta(seconds=min(delay, MAX_DELAY_SECONDS))
    window_ends = datetime.fromisoformat(delivery.created_at) + timedelta(seconds=config.webhook_retry_window_seconds)
    if not permanent and task.attempt < config.webhook_max_attempts and next_at <= window_ends:
        # Queued before it is recorded: if recording fails, the retry still happens.
        _enqueue(DeliveryTask(delivery_id=delivery.delivery_id, attempt=task.attempt + 1), delay)
        store.record(delivery.delivery_id, attempt, None, next_attempt_at=isoformat(next_at))
        logger.warning("attempt failed; retrying", error=result.error, delay_seconds=delay)
        return "retrying"
    store.record(delivery.delivery_id, attempt, "failed")
    _park(delivery, result.error or "failed")
    logger.error("delivery failed; parked in the dead-letter queue", error=result.error, attempts=task.attempt)
    return "failed"
