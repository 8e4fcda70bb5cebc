"""Webhooks: endpoints a tenant registers, the events they receive, and how each delivery is signed.

A job's status change becomes a ``JobEvent`` (``smmu.notifications``); the webhooks function fans it out to the
tenant's endpoints that subscribe to its type, one ``Delivery`` record each, and sends it, signed the Standard
Webhooks way (``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256 of
id.timestamp.body>``; the ``standardwebhooks`` library signs, and receivers verify with the same library).

One delivery per event: an event's id is derived from the job id, the new status and the job's attempt, and a
delivery's id from the endpoint and the event, and both are written with conditional puts, so an event published
twice (a retried status write) or a message received twice (SQS delivers at least once) sends nothing twice.

``job.progress`` (optional: endpoints subscribe to it explicitly) is throttled by its id: a stage's progress is cut
into steps of ``webhook_progress_step_percent`` and the id names the job, attempt, stage and step, so however often
a worker reports within one step (or a retried task reports it again), the step is delivered once per endpoint.
"""

import base64
import hashlib
import math
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from standardwebhooks import Webhook

from smmu.contracts import Message
from smmu.jobs import JobStatus, StageProgress

#: The job's terminal statuses, as event types: what an endpoint receives unless it asks otherwise.
TERMINAL_EVENT_TYPES = ("job.completed", "job.failed", "job.cancelled")
#: A running job's progress in one of its stages (transcode, transcribe), a step at a time; opt-in.
PROGRESS_EVENT_TYPE = "job.progress"
#: Every event type an endpoint can subscribe to.
WEBHOOK_EVENT_TYPES = (*TERMINAL_EVENT_TYPES, PROGRESS_EVENT_TYPE)
SECRET_PREFIX = "whsec_"
USER_AGENT = "smmu-webhooks/1"


def event_type(status: JobStatus | str) -> str:
    return f"job.{str(status).lower()}"


def event_id(job_id: str, status: JobStatus | str, attempt: int) -> str:
    """The event's id: the same for the same transition, however often it is published."""
    digest = hashlib.sha256(f"{job_id}:{status}:{attempt}".encode()).hexdigest()[:32]
    return f"evt_{digest}"


def check_event_types(events: Iterable[str]) -> list[str]:
    """The event types, each once, in the order given; ValueError naming the first one no endpoint can receive."""
    for name in events:
        if name not in WEBHOOK_EVENT_TYPES:
            shown = name if len(name) <= 64 else name[:64] + "…"
            raise ValueError(f"unknown event type {shown!r}; the event types are {', '.join(WEBHOOK_EVENT_TYPES)}")
    return list(dict.fromkeys(events))


def progress_step(percent: float, step_percent: float) -> int:
    """The step a progress report falls in: 0 for the first ``step_percent`` (the stage has started), then each
    multiple of ``step_percent`` (10, 20, … with 10), and 100 (the stage is done) as its own step."""
    if percent >= 100:
        return 100
    return int(math.floor(max(0.0, percent) / step_percent) * step_percent)


def progress_event_id(job_id: str, attempt: int, stage: str, step: int) -> str:
    """A progress event's id: the same for every report of one step of one stage of one attempt."""
    digest = hashlib.sha256(f"{job_id}:progress:{attempt}:{stage}:{step}".encode()).hexdigest()[:32]
    return f"evt_{digest}"


def delivery_id(webhook_id: str, event: str) -> str:
    return "dlv_" + hashlib.sha256(f"{webhook_id}:{event}".encode()).hexdigest()[:32]


def new_webhook_id() -> str:
    return "wh_" + secrets.token_hex(12)


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def check_secret(secret: str) -> str:
    """A secret a tenant supplies: ``whsec_`` and base64 of 24 to 64 bytes (ValueError otherwise)."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a secret starts with {SECRET_PREFIX!r} followed by base64")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError as exc:
        raise ValueError("the secret after 'whsec_' is not base64") from exc
    if not 24 <= len(key) <= 64:
        raise ValueError(f"the secret must hold 24 to 64 random bytes, not {len(key)}")
    return secret


def signed_headers(secret: str, message_id: str, sent_at: datetime, body: str) -> dict[str, str]:
    """The Standard Webhooks headers for ``body`` (the exact bytes sent, as text)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, sent_at, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


class WebhookEndpoint(BaseModel):
    webhook_id: str
    tenant_id: str
    url: str
    events: list[str]
    description: str = ""
    enabled: bool = True
    #: Kept to sign deliveries; shown to the tenant once, when the endpoint is created.
    secret: str
    created_at: str
    updated_at: str


class DeliveryAttempt(BaseModel):
    attempt: int
    at: str
    duration_ms: float
    #: The receiver's HTTP status, or None when no answer came (refused, timed out, unsafe address).
    status_code: int | None = None
    error: str | None = None


#: ``skipped``: a progress delivery not sent because the job had left that attempt's RUNNING status (its terminal
#: event is, or is about to be, on its way); nothing to retry or park.
DeliveryState = Literal["pending", "delivered", "failed", "skipped"]


class Delivery(BaseModel):
    delivery_id: str
    webhook_id: str
    tenant_id: str
    event_id: str
    event_type: str
    job_id: str
    job_status: str
    #: The job's attempt the event belongs to.
    job_attempt: int = 1
    #: When the event happened (a progress report's time); None: the delivery's creation (terminal events).
    occurred_at: str | None = None
    #: A ``job.progress`` event's stage and percent.
    progress: StageProgress | None = None
    state: DeliveryState = "pending"
    #: Attempts started so far; an attempt is claimed (attempts: n-1 -> n) before it is sent.
    attempts: int = 0
    created_at: str
    updated_at: str
    next_attempt_at: str | None = None
    attempt_log: list[DeliveryAttempt] = Field(default_factory=list)
    #: Epoch seconds for DynamoDB TTL: delivery records are kept for a while, then expire.
    expires_at: int | None = None


# -- messages on the webhooks queue ---------------------------------------------------------------------------


class JobEvent(Message):
    """A job's status change, as published to the webhooks queue (and, as ``detail``, to the event bus)."""

    kind: Literal["job_event"] = "job_event"
    event_id: str
    type: str
    job_id: str
    tenant_id: str
    status: str
    attempt: int = 1
    occurred_at: str
    #: A ``job.progress`` event's stage and percent.
    progress: StageProgress | None = None


class DeliveryTask(Message):
    """Send one delivery's ``attempt``-th attempt (sent again with a delay for each retry)."""

    kind: Literal["delivery"] = "delivery"
    delivery_id: str
    attempt: int = Field(ge=1)


WebhookMessage = Annotated[JobEvent | DeliveryTask, Field(discriminator="kind")]


def payload(event: JobEvent, data: dict[str, Any]) -> dict[str, Any]:
    """The body every receiver gets (the Standard Webhooks shape: type, timestamp, data)."""
    return {"type": event.type, "timestamp": event.occurred_at, "data": {"event_id": event.event_id, **data}}


def progress_data(event: JobEvent) -> dict[str, Any]:
    """A ``job.progress`` payload's data: small, and enough to order reports (attempt, stage, percent, time)."""
    if event.progress is None:
        raise ValueError(f"{event.event_id} is a {event.type} event, not a progress event")
    return {
        "job_id": event.job_id,
        "status": event.status,
        "attempt": event.attempt,
        "at": event.occurred_at,
        "progress": event.progress.model_dump(mode="json"),
    }
