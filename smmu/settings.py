"""Runtime settings shared by the API, the Lambda functions and the workers.

Every value comes from the environment (``SMMU_*``); the defaults equal the names in the resource manifest
(``infra/resources.json``), which a contract test keeps in step.
"""

import ipaddress
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024
GIB = 1024 * MIB


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMMU_", extra="ignore")

    region: str = Field(default="us-east-1", validation_alias="AWS_DEFAULT_REGION")
    raw_bucket: str = "smmu-raw"
    processed_bucket: str = "smmu-processed"
    jobs_table: str = "smmu-jobs"
    media_table: str = "smmu-media"
    api_keys_table: str = "smmu-api-keys"
    usage_table: str = "smmu-usage"
    state_machine_arn: str = ""
    webhooks_table: str = "smmu-webhooks"
    webhook_deliveries_table: str = "smmu-webhook-deliveries"
    webhook_queue: str = "smmu-webhooks"
    webhook_dead_letter_queue: str = "smmu-webhooks-dlq"
    #: Job status changes are put on this EventBridge bus as ``smmu.job`` events.
    event_bus: str = "smmu-jobs"
    #: Where clients reach S3 when it differs from the endpoint the services use (in a compose stack the API
    #: talks to http://emulator:4566 but a browser on the host needs http://127.0.0.1:4566): the download links
    #: in API answers and webhook payloads name it.
    public_s3_endpoint_url: str | None = None
    #: The pipeline's name, to find its ARN where SMMU_STATE_MACHINE_ARN is not set (a compose stack's API).
    state_machine_name: str = "smmu-pipeline"

    max_upload_bytes: int = Field(default=5 * GIB, gt=0)
    #: Uploads larger than this go to S3 in parts (multipart upload, resumable, checksummed per part); smaller
    #: ones in one presigned POST.
    multipart_threshold_bytes: int = Field(default=64 * MIB, gt=0)
    #: The part size handed out unless a client asks for another one within the bounds below. S3 refuses parts
    #: under 5 MiB (except the last) at completion; test stacks lower these with their emulator's minimum.
    multipart_part_bytes: int = Field(default=16 * MIB, gt=0)
    multipart_min_part_bytes: int = Field(default=8 * MIB, gt=0)
    multipart_max_part_bytes: int = Field(default=64 * MIB, gt=0)
    #: S3 allows 10,000 parts; the part size grows (up to the maximum) for a file that would need more.
    multipart_max_parts: int = Field(default=10_000, gt=0, le=10_000)
    #: An incomplete multipart upload older than this is aborted and its job failed (the reconciler; on AWS the
    #: raw bucket's AbortIncompleteMultipartUpload lifecycle rule removes the parts too, after a day).
    abandoned_upload_seconds: int = Field(default=24 * 3600, gt=0)
    # A presigned upload is usable this long; a job still PENDING_UPLOAD a while after it expires.
    upload_url_ttl_seconds: int = 900
    pending_upload_ttl_seconds: int = 24 * 3600
    download_url_ttl_seconds: int = 300
    thumbnail_widths: tuple[int, ...] = (160, 320, 640)
    #: Every thumbnail width in each of these formats (JSON list); the first that can carry the picture is the
    #: ``thumbnail`` output, the others ``thumbnail_variant`` outputs (JPEG cannot carry transparency).
    image_formats: tuple[Literal["jpeg", "webp", "avif"], ...] = Field(default=("jpeg", "webp", "avif"), min_length=1)
    #: Photos' GPS coordinates in the metadata the API returns. Off: outputs never carry them and the metadata
    #: says only that the original had some (``exif.HasGPS``).
    expose_image_location: bool = False
    #: ``GET /v1/jobs/{id}/similar``: the most differing bits (of 128 per picture; a video's mean over its frames)
    #: of a near-duplicate's perceptual hash, and
    #: how many of the tenant's newest jobs are compared.
    similar_max_distance: int = Field(default=12, ge=0, le=128)
    similar_scan_limit: int = Field(default=2000, gt=0)
    #: Limits of the per-upload options (``smmu.options``): a request beyond them is refused with 422.
    option_thumbnail_width_min: int = Field(default=16, gt=0)
    option_thumbnail_width_max: int = Field(default=2048, gt=0)
    option_thumbnail_widths_max: int = Field(default=6, gt=0)
    #: The ladder rungs (a picture's short side) a client may choose from.
    option_ladder_rungs: tuple[int, ...] = (1080, 720, 480, 360, 240)
    #: Retention: uploaded files are removed this many days after upload, outputs this many days after they
    #: were made (0: kept). On AWS the buckets' lifecycle rules do it (infra/resources.json keeps the same
    #: numbers); locally the reconciler does (``lambdas/reconcile``).
    raw_retention_days: int = Field(default=7, ge=0)
    output_retention_days: int = Field(default=0, ge=0)
    #: A worker checks this often whether its job was cancelled (or deleted, or retried), and then stops its tools.
    cancel_check_seconds: float = Field(default=1.0, gt=0)
    # A media worker that has not sent a heartbeat for this long is presumed dead; its task is retried. Three
    # of the workers' beats (SMMU_WORKER_HEARTBEAT_SECONDS, 10 s) fit in it, and with the retry's delay and a
    # worker's start a SIGKILLed worker's task runs again within 45 s.
    worker_heartbeat_timeout_seconds: int = 30
    # A job QUEUED or RUNNING without an update for this long is checked against its execution.
    reconcile_grace_seconds: int = 600
    # Webhooks: a delivery is retried with exponential backoff (base * 2^(attempt-1) seconds, at most 900, SQS's
    # longest delay) up to this many attempts, and never after the window since the event; then it is parked in
    # the dead-letter queue.
    webhook_max_attempts: int = Field(default=8, ge=1, le=20)
    webhook_backoff_base_seconds: int = Field(default=10, ge=0, le=900)
    webhook_retry_window_seconds: int = Field(default=3600, gt=0)
    #: Each request's connect and read timeout; the receiver's answer is read up to the byte limit.
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    webhook_max_response_bytes: int = Field(default=64 * 1024, gt=0)
    #: Networks exempt from the webhook SSRF guard (CIDRs, e.g. ["127.0.0.0/8"] for a local receiver in
    #: development). Empty in production: only public addresses are called.
    webhook_allowed_networks: list[str] = Field(default_factory=list)
    max_webhooks_per_tenant: int = Field(default=10, gt=0)
    webhook_delivery_retention_days: int = Field(default=30, gt=0)
    #: ``job.progress`` webhooks: a stage's progress is delivered once per step of this many percent (0 %, 10 %,
    #: …, 100 % with 10: at most 11 per stage and attempt); 0 publishes none.
    webhook_progress_step_percent: float = Field(default=10.0, ge=0, le=100)
    # Pillow refuses images with more pixels than this (decompression-bomb guard).
    max_image_pixels: int = 80_000_000

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(f"SMMU_WEBHOOK_ALLOWED_NETWORKS: {cidr!r} is not a network ({exc})") from exc
        return cidrs

    @model_validator(mode="after")
    def _part_bounds(self) -> "Settings":
        if not self.multipart_min_part_bytes <= self.multipart_part_bytes <= self.multipart_max_part_bytes:
            raise ValueError(
                "need SMMU_MULTIPART_MIN_PART_BYTES <= SMMU_MULTIPART_PART_BYTES <= SMMU_MULTIPART_MAX_PART_BYTES"
            )
        if self.multipart_max_part_bytes > 5 * GIB:
            raise ValueError("SMMU_MULTIPART_MAX_PART_BYTES: S3 parts are at most 5 GiB")
        if self.max_upload_bytes > self.multipart_max_part_bytes * self.multipart_max_parts:
            raise ValueError("SMMU_MAX_UPLOAD_BYTES needs more than SMMU_MULTIPART_MAX_PARTS parts of the largest size")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
