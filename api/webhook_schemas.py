"""Request and response bodies of the webhooks API."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from smmu.webhooks import DeliveryAttempt, check_secret

EventType = Literal["job.completed", "job.failed", "job.cancelled"]
#: The literal above, as the domain names them (a unit test keeps the two equal).
ALL_EVENTS: list[EventType] = ["job.completed", "job.failed", "job.cancelled"]


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
        default_factory=lambda: list(ALL_EVENTS), min_length=1, description="Event types to receive"
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
    def _unique(cls, events: list[EventType]) -> list[EventType]:
        return list(dict.fromkeys(events))


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    events: list[EventType] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None


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
    state: Literal["pending", "delivered", "failed"] = Field(
        description="`failed`: every attempt within the bounds failed; the delivery was parked in the dead-letter queue"
    )
    attempts: int
    created_at: str
    updated_at: str
    next_attempt_at: str | None = None
    attempt_log: list[DeliveryAttempt]


class DeliveryPage(BaseModel):
    items: list[DeliveryView]
    next_cursor: str | None = None
