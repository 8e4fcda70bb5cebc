"""Runtime settings shared by the API, the Lambda functions and the workers.

Every value comes from the environment (``SMMU_*``); the defaults equal the names in the resource manifest
(``infra/resources.json``), which a contract test keeps in step.
"""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


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

    max_upload_bytes: int = 100 * MIB
    # A presigned upload is usable this long; a job still PENDING_UPLOAD a while after it expires.
    upload_url_ttl_seconds: int = 900
    pending_upload_ttl_seconds: int = 24 * 3600
    download_url_ttl_seconds: int = 300
    thumbnail_widths: tuple[int, ...] = (160, 320, 640)
    # A media worker that has not sent a heartbeat for this long is presumed dead; its task is retried.
    worker_heartbeat_timeout_seconds: int = 120
    # A job QUEUED or RUNNING without an update for this long is checked against its execution.
    reconcile_grace_seconds: int = 600
    # Pillow refuses images with more pixels than this (decompression-bomb guard).
    max_image_pixels: int = 80_000_000


@lru_cache
def get_settings() -> Settings:
    return Settings()
