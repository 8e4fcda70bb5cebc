"""Request and response bodies of the public API."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from smmu.jobs import JobError, JobStatus, Output, Placeholder, TimelineEntry
from smmu.keys import clean_filename
from smmu.options import ProcessingOptions


class UploadOptions(ProcessingOptions):
    """The per-upload options as a request states them: unknown options are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


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
    multipart: bool | None = Field(
        default=None,
        description="Upload in parts (resumable, checksummed per part). Default: for files above the multipart "
        "threshold of /v1/limits; false is refused above it.",
    )
    part_size_bytes: int | None = Field(
        default=None, gt=0, description="Part size for a multipart upload, within the bounds of /v1/limits"
    )
    part_checksums: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="SHA-256 (base64) of the first parts, in order: the response carries their URLs",
    )
    options: UploadOptions | None = Field(
        default=None,
        description="What to make from this file (thumbnail widths and formats, ladder rungs, HLS, transcription, "
        "spoken language); left out: the defaults. Limits: /v1/limits.",
    )

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


class PartUrl(BaseModel):
    part_number: int
    url: str
    method: str = "PUT"
    headers: dict[str, str] = Field(description="Headers to send with the part, exactly (they are signed)")
    expires_at: str


class MultipartUpload(BaseModel):
    upload_id: str
    part_size_bytes: int
    part_count: int
    checksum_algorithm: str = Field(description="Every part carries this checksum (x-amz-checksum-sha256)")
    parts: list[PartUrl] = Field(description="URLs of the parts whose checksums the request named")


class UploadResponse(BaseModel):
    job_id: str
    status: JobStatus
    upload: PresignedPost | None = Field(default=None, description="One presigned POST (small files)")
    multipart: MultipartUpload | None = Field(default=None, description="Parts to PUT (large files)")


class PartChecksum(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    part_number: int = Field(ge=1, le=10_000)
    checksum_sha256: str = Field(min_length=44, max_length=44, description="SHA-256 of the part, base64")


class PartUrlRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    parts: list[PartChecksum] = Field(min_length=1, max_length=100)


class PartUrls(BaseModel):
    parts: list[PartUrl]


class ReceivedPart(BaseModel):
    part_number: int
    size_bytes: int
    checksum_sha256: str | None


class UploadProgress(BaseModel):
    job_id: str
    upload_id: str
    part_size_bytes: int
    part_count: int
    received: list[ReceivedPart] = Field(description="Parts S3 holds: a resuming client sends only the others")
    missing: list[int]
    received_bytes: int


class CompleteRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    parts: list[PartChecksum] = Field(
        default_factory=list, max_length=500, description="Optional: checksums the client computed, to compare"
    )


class CompletedUpload(BaseModel):
    job_id: str
    status: JobStatus
    size_bytes: int
    checksum_sha256: str | None = Field(description="S3's checksum of the object: SHA-256 of the parts' SHA-256s, -N")


class Limits(BaseModel):
    max_upload_bytes: int
    multipart_threshold_bytes: int
    multipart_part_bytes: int
    multipart_min_part_bytes: int
    multipart_max_part_bytes: int
    multipart_max_parts: int
    allowed_content_types: list[str]
    upload_url_ttl_seconds: int
    options: "OptionLimits"


class OptionLimits(BaseModel):
    """The bounds of the per-upload options."""

    thumbnail_width_min: int
    thumbnail_width_max: int
    thumbnail_widths_max: int
    thumbnail_formats: list[str]
    ladder_rungs: list[int]


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
    checksum_sha256: str | None = Field(default=None, description="Of a multipart upload, as S3 computed it")
    sha256: str | None = Field(
        default=None, description="SHA-256 (hex) of the uploaded bytes, once processing read them"
    )
    duplicate_of: str | None = Field(
        default=None,
        description="The earlier job with the same bytes (and, for audio and video, the same options) whose outputs "
        "this job reused: its own copies of them",
    )
    placeholder: Placeholder | None = Field(
        default=None, description="Paint this before any download: ThumbHash (base64) and dominant colour"
    )
    language: str | None = Field(default=None, description="Audio and video: the spoken language (ISO 639-1)")
    error: JobError | None = None
    attempt: int = Field(default=1, description="1, or the attempt a retry started")
    options: ProcessingOptions = Field(description="What the upload asked for (null fields: the defaults)")
    timeline: list[TimelineEntry]
    outputs: list[OutputView]
    metadata: dict[str, Any] | None = None
    progress: dict[str, float] = Field(
        default_factory=dict, description="While RUNNING: each stage's progress (transcode, transcribe), in percent"
    )


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


class Playback(BaseModel):
    hls_url: str = Field(
        description="The master playlist: a player needs nothing else (no header); every URL it leads to is signed"
    )
    expires_at: str = Field(description="Until when the URL and the ones its playlists hand out work")


class Health(BaseModel):
    status: str
    checks: dict[str, str]


class SimilarJob(BaseModel):
    job_id: str
    filename: str
    created_at: str
    distance: int = Field(
        description="Differing bits of the two perceptual hashes, of 128 per picture: for videos, the mean over the "
        "compared frames (rounded up)"
    )


class SimilarJobs(BaseModel):
    job_id: str
    max_distance: int = Field(description="The most differing bits (of 128 per picture) a near match may have")
    exact: list[SimilarJob] = Field(description="Jobs whose upload had exactly the same bytes")
    near: list[SimilarJob] = Field(
        description="Other bytes, perceptual hash within max_distance bits (per picture): nearest first"
    )
