"""The job: its status model, the rules for moving between statuses, and what a client sees of it."""

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, field_validator

from smmu.errors import code_for, error_codes
from smmu.options import ProcessingOptions

if TYPE_CHECKING:
    from smmu.ports import JobStore


class JobStatus(StrEnum):
    PENDING_UPLOAD = "PENDING_UPLOAD"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    #: Stopped on request (``POST /v1/jobs/{id}/cancel``); final like COMPLETED and FAILED.
    CANCELLED = "CANCELLED"


#: Statuses a job's attempt ends in: nothing of the pipeline moves a job out of them. Only a retry (a new attempt,
#: ``RETRYABLE``) does.
TERMINAL_STATUSES: frozenset[JobStatus] = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
#: Statuses a job is being worked on in (or waits for its upload in): a cancel stops them.
ACTIVE_STATUSES: frozenset[JobStatus] = frozenset({JobStatus.PENDING_UPLOAD, JobStatus.QUEUED, JobStatus.RUNNING})
#: Statuses a retry may start a new attempt from.
RETRYABLE: frozenset[JobStatus] = frozenset({JobStatus.FAILED, JobStatus.CANCELLED})

#: target status -> the statuses a job may be in to move there. Anything else is a late or duplicate event,
#: and the conditional write that enforces this table refuses it, so a job never moves backwards.
ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.PENDING_UPLOAD}),
    JobStatus.RUNNING: frozenset({JobStatus.QUEUED}),
    JobStatus.COMPLETED: frozenset({JobStatus.RUNNING}),
    JobStatus.FAILED: ACTIVE_STATUSES,
    JobStatus.CANCELLED: ACTIVE_STATUSES,
}


def is_terminal(status: JobStatus) -> bool:
    return status in TERMINAL_STATUSES


def execution_name(job_id: str, attempt: int) -> str:
    """The name of the execution of a job's attempt: the job id for the first (as before retries existed), then
    ``<job id>-<attempt>``; a name is never reused, so a second start of one attempt is impossible."""
    return job_id if attempt <= 1 else f"{job_id}-{attempt}"


def allowed_sources(target: JobStatus) -> frozenset[JobStatus]:
    return ALLOWED_TRANSITIONS.get(target, frozenset())


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    return current in allowed_sources(target)


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    """Millisecond ISO-8601 in UTC: sorts as text, which the listing index relies on."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return isoformat(utcnow())


class TimelineEntry(BaseModel):
    step: str
    outcome: Literal["succeeded", "failed", "info"]
    at: str = Field(default_factory=now_iso)
    duration_ms: float | None = None
    detail: str | None = None
    #: The job's attempt the entry belongs to, from the second attempt on (a retry starts one).
    attempt: int | None = None


class EventKind(StrEnum):
    """What a job event reports (the ``event:`` of the SSE streams, docs/events.md)."""

    STATUS = "status"
    STEP = "step"
    PROGRESS = "progress"


class StageProgress(BaseModel):
    #: The worker that reports it: ``transcode`` or ``transcribe``.
    stage: str
    percent: float = Field(ge=0, le=100)


class JobError(BaseModel):
    step: str = Field(description="The step that failed")
    code: str = Field(
        description="Stable, machine-readable reason; one of:\n\n"
        + "\n".join(f"- `{code}`: {meaning}" for code, meaning in sorted(error_codes().items())),
        examples=["TYPE_MISMATCH"],
    )
    message: str = Field(description="Human-readable reason")


class JobEvent(BaseModel):
    """One entry of a job's event log, kept in the job's record and appended in the same conditional write as
    the change it reports: a status transition, a timeline step or a (throttled) progress report."""

    kind: EventKind
    at: str
    status: JobStatus | None = None
    #: With a FAILED status: why.
    error: JobError | None = None
    step: str | None = None
    outcome: Literal["succeeded", "failed", "info"] | None = None
    duration_ms: float | None = None
    detail: str | None = None
    progress: StageProgress | None = None


def status_event(status: JobStatus, at: str, error: JobError | dict[str, Any] | None = None) -> JobEvent:
    err = JobError.model_validate(error) if error is not None else None
    return JobEvent(kind=EventKind.STATUS, at=at, status=status, error=err)


def step_event(entry: TimelineEntry) -> JobEvent:
    return JobEvent(
        kind=EventKind.STEP,
        at=entry.at,
        step=entry.step,
        outcome=entry.outcome,
        duration_ms=entry.duration_ms,
        detail=entry.detail,
    )


def progress_event(stage: str, percent: float, at: str) -> JobEvent:
    return JobEvent(kind=EventKind.PROGRESS, at=at, progress=StageProgress(stage=stage, percent=percent))


class MediaFacts(BaseModel):
    """What an output file is, as media: pictures have a size, audio and video a length and a bit rate."""

    width: int | None = None
    height: int | None = None
    #: Audio and video outputs: their length and overall bit rate (bits per second).
    duration_seconds: float | None = None
    bitrate: int | None = None

    def facts(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in MediaFacts.model_fields}


class Output(MediaFacts):
    kind: str
    key: str
    content_type: str
    size_bytes: int


class Placeholder(BaseModel):
    """What a client paints before any download: a ThumbHash (base64; it carries the aspect ratio) and the
    dominant colour (#rrggbb)."""

    thumbhash: str
    dominant_color: str


def content_key(tenant_id: str, sha256: str) -> str:
    """The duplicates index's partition: identical bytes of one tenant (never across tenants)."""
    return f"{tenant_id}#{sha256}"


#: The tenant of jobs written before tenants existed, and of make-believe jobs in tests.
DEFAULT_TENANT = "default"


class Job(BaseModel):
    job_id: str
    #: Who owns the job: only callers of this tenant see it (see api/auth.py).
    tenant_id: str = DEFAULT_TENANT
    status: JobStatus
    filename: str
    content_type: str
    size_bytes: int
    raw_bucket: str
    raw_key: str
    created_at: str
    updated_at: str
    upload_expires_at: str
    #: Epoch seconds for DynamoDB TTL: set only while the upload is pending, so abandoned jobs expire.
    expires_at: int | None = None
    media_type: str | None = None
    detected_content_type: str | None = None
    uploaded_bytes: int | None = None
    #: The upload the job accepted (S3's ETag and, in a versioned bucket, version id), pinned when the upload
    #: event arrives: a later upload to the same key is ignored, and a step that finds other bytes fails.
    upload_etag: str | None = None
    upload_version_id: str | None = None
    #: A multipart upload (large files): S3's upload id and the part size; None for a presigned POST.
    upload_id: str | None = None
    part_size_bytes: int | None = None
    #: S3's checksum of a completed multipart upload (SHA-256 of the parts' SHA-256s, then ``-<parts>``).
    checksum_sha256: str | None = None
    execution_name: str | None = None
    #: SHA-256 (hex) of the uploaded bytes, and its key in the duplicates index (``content_key``).
    sha256: str | None = None
    content_key: str | None = None
    #: The earlier job with the same bytes whose outputs this one reused (it was not processed again).
    duplicate_of: str | None = None
    placeholder: Placeholder | None = None
    #: dHash of an image (128 bits, hex), or of a video's frames (joined with ':'), for ``/v1/jobs/{id}/similar``.
    perceptual_hash: str | None = None
    #: 1 for the first run; each retry starts a new attempt (a new execution) of the same upload.
    attempt: int = 1
    #: What the client asked for at upload; the defaults when it asked for nothing.
    options: ProcessingOptions = Field(default_factory=ProcessingOptions)
    completed_at: str | None = None
    #: Audio and video: the spoken language (ISO 639-1) the transcript is in, detected or given.
    language: str | None = None
    error: JobError | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)
    outputs: list[Output] = Field(default_factory=list)
    #: The job's event log, oldest first; an event's position is its id in the per-job event stream.
    events: list[JobEvent] = Field(default_factory=list)
    #: The latest progress of each processing stage (``transcode``, ``transcribe``), in percent.
    progress: dict[str, float] = Field(default_factory=dict)

    @field_validator("events", mode="before")
    @classmethod
    def _stored_events(cls, events: Any) -> Any:
        # The table keeps each event as one JSON string (smmu/repository.py): a compact item, cheap to read.
        if isinstance(events, list):
            return [json.loads(e) if isinstance(e, str) else e for e in events]
        return events


def new_job(
    *,
    job_id: str,
    tenant_id: str = DEFAULT_TENANT,
    filename: str,
    content_type: str,
    size_bytes: int,
    raw_bucket: str,
    raw_key: str,
    upload_ttl_seconds: int,
    pending_ttl_seconds: int,
    options: ProcessingOptions | None = None,
) -> Job:
    created = utcnow()
    requested = TimelineEntry(step="UploadRequested", outcome="info", at=isoformat(created))
    return Job(
        job_id=job_id,
        tenant_id=tenant_id,
        status=JobStatus.PENDING_UPLOAD,
        filename=filename,
        content_type=content_type,
        size_bytes=size_bytes,
        raw_bucket=raw_bucket,
        raw_key=raw_key,
        created_at=isoformat(created),
        updated_at=isoformat(created),
        upload_expires_at=isoformat(datetime.fromtimestamp(created.timestamp() + upload_ttl_seconds, UTC)),
        expires_at=int(created.timestamp()) + pending_ttl_seconds,
        options=options or ProcessingOptions(),
        timeline=[requested],
        events=[status_event(JobStatus.PENDING_UPLOAD, requested.at), step_event(requested)],
    )


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


def job_error_from_step_functions(step: str, error_name: str | None, cause: str | None) -> JobError:
    """Turn a Step Functions Catch result (its ``Error`` and ``Cause``) into the reason a client reads.

    A Lambda exception's Cause is JSON with errorType/errorMessage; a timeout's Cause is plain text.
    """
    name = error_name or "Unknown"
    message = cause or ""
    if message.startswith("{"):
        try:
            parsed = json.loads(message)
            message = parsed.get("errorMessage") or parsed.get("errorType") or message
        except json.JSONDecodeError:
            pass
    if not message:
        message = name
    return JobError(step=step, code=code_for(name), message=f"{step} failed: {message}")


def fail_job(jobs: "JobStore", job_id: str, error: JobError, *, timeline_step: str, attempt: int | None = None) -> bool:
    """Move a job to FAILED with ``error`` as its reason; False if its status does not allow it (it has ended) or,
    given ``attempt``, the job has moved on to another attempt."""
    return jobs.transition(
        job_id,
        JobStatus.FAILED,
        entry=TimelineEntry(
            step=timeline_step,
            outcome="info",
            detail=error.message,
            attempt=attempt if attempt and attempt > 1 else None,
        ),
        fields={"error": dump(error), "completed_at": now_iso()},
        remove=("expires_at",),
        attempt=attempt,
    )
