"""The ports of the domain core: what the API, the Lambda functions and the workers need from storage and the
workflow engine, independent of AWS.

Adapters: ``smmu.repository`` (DynamoDB) and ``smmu.workflow`` (Step Functions), each taking an injected boto3
client. In-memory fakes with the same semantics: ``smmu.fakes`` (for fast unit tests; one behavioural suite runs
against both, tests/integration/test_stores.py).
"""

import builtins
from datetime import datetime
from typing import Any, Protocol

from smmu.contracts import ExecutionInput
from smmu.jobs import Job, JobStatus, TimelineEntry
from smmu.multipart import StoredPart
from smmu.options import ProcessingOptions


class JobAlreadyExistsError(Exception):
    """``JobStore.create`` of a job id that is already stored."""


class JobStore(Protocol):
    """Jobs by id, with status changes that only ever move forward (``smmu.jobs.ALLOWED_TRANSITIONS``)."""

    def create(self, job: Job) -> None:
        """Store a new job; JobAlreadyExistsError if its id is taken."""

    def get(self, job_id: str) -> Job | None: ...

    def transition(
        self,
        job_id: str,
        target: JobStatus,
        *,
        entry: TimelineEntry | None = None,
        fields: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
        attempt: int | None = None,
    ) -> bool:
        """Move a job to ``target`` if its current status allows it (and, given ``attempt``, the job is still at
        that attempt), in one conditional write that also sets ``fields``, removes ``remove`` and appends
        ``entry``; False (and no write) otherwise."""

    def restart(
        self,
        job_id: str,
        *,
        attempt: int,
        entry: TimelineEntry | None = None,
        fields: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
    ) -> bool:
        """QUEUED again as ``attempt``, in one conditional write, if attempt ``attempt - 1`` ended FAILED or
        CANCELLED (``smmu.jobs.RETRYABLE``); False (and no write) otherwise."""

    def delete(self, job_id: str) -> bool:
        """Remove the job's record; False if there was none."""

    def record_step(self, job_id: str, entry: TimelineEntry) -> bool:
        """Append a timeline entry and its step event to an existing job; False if there is no such job or this
        entry (same step, outcome and time) was recorded already: a retried write adds nothing."""

    def update_fields(self, job_id: str, fields: dict[str, Any]) -> bool:
        """Set fields of an existing job; False if there is no such job."""

    def report_progress(
        self, job_id: str, stage: str, percent: float, *, new_item: dict[str, Any] | None = None
    ) -> bool:
        """Set a RUNNING job's progress in ``stage`` and append a progress event, only if ``percent`` is above
        the stage's last report; False (and no write) otherwise. ``new_item``, if given, gets the job as written."""

    def changed_since(self, tenant_id: str, since: str, *, limit: int = 200) -> list[str]:
        """Ids of the tenant's jobs whose last update is at or after ``since`` (ISO time), oldest first."""

    def list(
        self,
        *,
        tenant_id: str | None = None,
        status: JobStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> tuple[list[Job], str | None]:
        """Jobs newest first, a page at a time: one tenant's (optionally of one status) or, without a tenant, every
        tenant's jobs of one status. (page, cursor of the next page or None).

        ValueError for a cursor this store did not hand out, or for neither tenant nor status."""

    def count_active(self, tenant_id: str, *, now: str, since: str) -> int:
        """The tenant's jobs created since ``since`` that are QUEUED, RUNNING, or PENDING_UPLOAD with an upload URL
        still valid at ``now``."""

    def find_completed_by_content(
        self, tenant_id: str, sha256: str, options: ProcessingOptions | None = None
    ) -> Job | None:
        """The tenant's oldest COMPLETED job whose upload had these bytes (``Job.content_key``) and, when given,
        was processed with these options; or None."""

    def with_perceptual_hash(self, tenant_id: str, *, scan_limit: int) -> builtins.list[Job]:
        """The tenant's jobs that have a perceptual hash, among its ``scan_limit`` newest jobs."""


class MediaStore(Protocol):
    """Per-job media metadata (dimensions, format, EXIF, streams), one record per job."""

    def put(self, job_id: str, media_type: str, metadata: dict[str, Any]) -> None: ...

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The record (``job_id``, ``media_type``, ``metadata``, ``updated_at``) or None."""

    def delete(self, job_id: str) -> bool:
        """Remove the record; False if there was none."""


class WebhookDeliveries(Protocol):
    """The webhook delivery records (``smmu.webhook_store``), as a job's deletion needs them."""

    def delete_for_job(self, job_id: str) -> int:
        """Remove every delivery of the job's events, to any endpoint; how many there were."""


class Workflows(Protocol):
    """One pipeline execution per attempt of a job, named ``smmu.jobs.execution_name(job_id, attempt)``."""

    def start(self, execution: ExecutionInput) -> str | None:
        """Start the attempt's execution; its id, or None if it already has one (a second start is impossible)."""

    def status(self, name: str) -> str | None:
        """The execution's status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED) or None if there is none."""

    def stop(self, name: str, cause: str) -> bool:
        """Stop the execution if it runs (ABORTED); False if it was not running."""


class MultipartUploads(Protocol):
    """S3 multipart uploads in the raw bucket (``smmu.uploads``): the bytes go from the client to S3 directly."""

    def create(self, key: str, content_type: str) -> str:
        """Start an upload whose parts carry SHA-256 checksums; its upload id."""

    def parts(self, key: str, upload_id: str) -> list[StoredPart]:
        """The parts received so far. Raises the store's NoSuchUpload error for an ended upload."""

    def complete(self, key: str, upload_id: str, parts: list[StoredPart]) -> dict[str, Any]: ...

    def abort(self, key: str, upload_id: str) -> None: ...

    def incomplete(self, prefix: str, initiated_before: datetime) -> list[tuple[str, str]]:
        """(key, upload id) of the uploads under ``prefix`` started before ``initiated_before``."""


class ObjectStore(Protocol):
    """The buckets, as the job lifecycle needs them (``smmu.objects``)."""

    def exists(self, bucket: str, key: str) -> bool: ...

    def remove_all(self, bucket: str, prefix: str) -> list[str]:
        """Delete every object under ``prefix``, each version and delete marker; the keys removed."""

    def expire(self, bucket: str, prefix: str, before: datetime) -> list[str]:
        """Remove every version of each key under ``prefix`` last written before ``before``; the keys removed."""
