"""Request and response bodies of the webhooks API."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from smmu.webhooks import TERMINAL_EVENT_TYPES, WEBHOOK_EVENT_TYPES, DeliveryAttempt, check_event_types, check_secret

#: Every event type an endpoint can subscribe to; an unknown one is refused by name (``check_event_types``).
ALL_EVENTS: list[str] = list(WEBHOOK_EVENT_TYPES)
EventType = Annotated[str, Field(json_schema_extra={"enum": ALL_EVENTS})]
EVENTS_DESCRIPTION = (
    "Event types to receive: `job.completed`, `job.failed`, `job.cancelled` (the default: all three) and, on "
    "request, `job.progress` (a running job's progress per stage, a step at a time)"
)


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=2048,
        description="Where deliveries are POSTed: http(s) to a public address (private, loopback, link-local and "
        "metadata addresses are refused)",
        examples=["https://example.com/hooks/smmu"],
    )
    events: list[EventType] = Field(
        default_factory=lambda: list(TERMINAL_EVENT_TYPES), min_length=1, description=EVENTS_DESCRIPTION
    )
    description: str = Field(default="", max_length=200)
    secret: str | None = Field(
        default=None,
        description="A Standard Webhooks signing secret (`whsec_` + base64 of 24-64 random bytes). Leave it out "
        "to have one generated; it is shown once, in this response.",
    )

    @field_validator("secret")
    @classmethod
    def _secret(cls, secret: str | None) -> str | None:
        return None if secret is None else check_secret(secret)

    @field_validator("events")
    @classmethod
    def _known(cls, events: list[str]) -> list[str]:
        return check_event_types(events)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    events: list[EventType] | None = Field(default=None, min_length=1, description=EVENTS_DESCRIPTION)
    description: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None

    @field_validator("events")
    @classmethod
    def _known(cls, events: list[str] | None) -> list[str] | None:
        return None if events is None else check_event_types(events)


class WebhookView(BaseModel):
    webhook_id: str
    url: str
    events: list[str]
    description: str
    enabled: bool
    created_at: str
    updated_at: str


class WebhookCreated(WebhookView):
    secret: str = Field(description="The signing secret: store it now, it is not shown again")


class WebhookList(BaseModel):
    items: list[WebhookView]


class DeliveryView(BaseModel):
    delivery_id: str
    event_id: str = Field(description="The `webhook-id` header of every attempt; the same for every endpoint")
    event_type: str
    job_id: str
    state: Literal["pending", "delivered", "failed", "skipped"] = Field(
        description="`failed`: every attempt within the bounds failed; the delivery was parked in the dead-letter "
        "queue. `skipped`: a `job.progress` delivery not sent because the job had stopped running that attempt"
    )
    attempts: int
    created_at: str
    updated_at: str
    next_attempt_at: str | None = None
    attempt_log: list[DeliveryAttempt]


class DeliveryPage(BaseModel):
    items: list[DeliveryView]
    next_cursor: str | None = None
