"""Request and response bodies of the public API."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from smmu.jobs import JobError, JobStatus, Output, TimelineEntry
from smmu.keys import clean_filename


class UploadRequest(BaseModel):
    # Strict: a size is a JSON integer, not `true`, `"12"` or `2.0`; unknown fields are refused, not ignored.
    model_config = ConfigDict(strict=True, extra="forbid")

    filename: str = Field(
        min_length=1,
        max_length=1024,
        description="Stored and shown in Unicode NFC, without control or markup characters, at most 255 characters",
        examples=["holiday.jpg"],
    )
    content_type: str = Field(min_length=3, max_length=100, examples=["image/jpeg"])
    size_bytes: int = Field(gt=0, le=2**53, description="Exact size of the file to upload, in bytes", examples=[482113])

    @field_validator("filename")
    @classmethod
    def _clean(cls, filename: str) -> str:
        cleaned = clean_filename(filename)
        if not cleaned:
            raise ValueError("filename has no usable characters")
        return cleaned


class PresignedPost(BaseModel):
    url: str
    fields: dict[str, str] = Field(description="Form fields to send, before the file field")
    expires_at: str


class UploadResponse(BaseModel):
    job_id: str
    status: JobStatus
    upload: PresignedPost


class Limits(BaseModel):
    max_upload_bytes: int
    allowed_content_types: list[str]
    upload_url_ttl_seconds: int


class OutputView(Output):
    url: str = Field(description="Short-lived download URL")


class JobView(BaseModel):
    job_id: str
    status: JobStatus
    filename: str
    content_type: str
    size_bytes: int
    media_type: str | None = None
    created_at: str
    updated_at: str
    completed_at: str | None = None
    upload_expires_at: str | None = None
    error: JobError | None = None
    timeline: list[TimelineEntry]
    outputs: list[OutputView]
    metadata: dict[str, Any] | None = None


class JobSummary(BaseModel):
    job_id: str
    status: JobStatus
    filename: str
    media_type: str | None = None
    created_at: str
    updated_at: str


class JobPage(BaseModel):
    items: list[JobSummary]
    next_cursor: str | None = None


class Health(BaseModel):
    status: str
    checks: dict[str, str]
