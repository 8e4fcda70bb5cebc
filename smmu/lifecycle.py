"""What a client may do to a job after the upload: cancel it, retry it, delete it (and everything of it).

The use cases work on the ports (``smmu.ports``), so the API runs them against AWS and unit tests against the
in-memory fakes. Each checks ownership first: another tenant's job answers exactly as a missing one does.

- **cancel**: the job moves to CANCELLED (a terminal status, so no late event of the pipeline can overwrite it),
  its execution is stopped, an unfinished multipart upload is aborted and its outputs are removed. The media
  workers notice within ``cancel_check_seconds`` (they poll the job) and kill their tools; a worker that had
  written anything removes it again (``workers/runtime.py``).
- **retry**: a FAILED or CANCELLED job is QUEUED again as its next attempt, with a new execution
  (``smmu.jobs.execution_name``) that reads the stored upload; the attempt's status updates carry its number,
  so nothing of the earlier attempt can change the job any more.
- **delete**: cancel if active, then remove the upload (every version), every output (every version) and the
  job's records, its webhook delivery records included; the report says what went.
"""

import logging
from dataclasses import dataclass, field

from pydantic import BaseModel

from smmu.contracts import ExecutionInput
from smmu.jobs import (
    ACTIVE_STATUSES,
    RETRYABLE,
    Job,
    JobStatus,
    TimelineEntry,
    execution_name,
    now_iso,
)
from smmu.keys import OUTPUT_PREFIX, UPLOAD_PREFIX
from smmu.ports import JobStore, MediaStore, MultipartUploads, ObjectStore, WebhookDeliveries, Workflows
from smmu.settings import Settings

log = logging.getLogger("smmu.lifecycle")


class JobNotFound(LookupError):
    """No such job for this tenant."""


class JobConflict(Exception):
    """The job's status does not allow what was asked."""

    def __init__(self, job_id: str, status: JobStatus, message: str) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.status = status


class CancelReport(BaseModel):
    job_id: str
    status: JobStatus
    #: Whether a running execution was stopped (False: none had started, or it had just ended).
    execution_stopped: bool
    #: Outputs already written that were removed.
    outputs_removed: int


class RetryReport(BaseModel):
    job_id: str
    status: JobStatus
    attempt: int
    execution_name: str


class DeletionReport(BaseModel):
    job_id: str
    #: The job was still active and was cancelled first.
    cancelled: bool
    #: Keys removed from the upload bucket (every version of each) and from the output bucket.
    raw_objects: list[str]
    outputs_removed: int
    #: The records removed: "job" (the jobs table) and "media" (its media metadata) where there was one.
    records: list[str]
    #: Webhook delivery records of the job's events (every endpoint's, every attempt's log with them).
    webhook_deliveries_removed: int = 0


def output_prefix(job_id: str) -> str:
    return f"{OUTPUT_PREFIX}{job_id}/"


def upload_prefix(job: Job) -> str:
    """The job's folder in the upload bucket (``smmu.keys.upload_key``): only this job's upload is in it."""
    return f"{UPLOAD_PREFIX}{job.tenant_id}/{job.job_id}/"


def execution_input(job: Job, settings: Settings) -> ExecutionInput:
    """What the execution of the job's current attempt starts with."""
    return ExecutionInput(
        job_id=job.job_id,
        bucket=job.raw_bucket,
        key=job.raw_key,
        worker_heartbeat_seconds=settings.worker_heartbeat_timeout_seconds,
        attempt=job.attempt,
        options=job.options,
    )


@dataclass
class JobLifecycle:
    jobs: JobStore
    media: MediaStore
    workflows: Workflows
    objects: ObjectStore
    uploads: MultipartUploads
    deliveries: WebhookDeliveries
    settings: Settings
    #: Written into the cancelled job's timeline and the stopped execution's cause.
    reason: str = field(default="cancelled on request")

    def owned(self, job_id: str, tenant_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.tenant_id != tenant_id:
            raise JobNotFound(f"no job with id {job_id}")
        return job

    def cancel(self, job_id: str, tenant_id: str) -> CancelReport:
        job = self.owned(job_id, tenant_id)
        if job.status not in ACTIVE_STATUSES:
            raise JobConflict(
                job_id, job.status, f"job {job_id} is {job.status.value}: it has ended and cannot be cancelled"
            )
        if not self.jobs.transition(
            job_id,
            JobStatus.CANCELLED,
            entry=TimelineEntry(step="Cancelled", outcome="info", detail=self.reason, attempt=_attempt(job)),
            fields={"completed_at": now_iso()},
            remove=("expires_at",),
        ):
            # It ended (or was cancelled) between the read and the write.
            current = self.owned(job_id, tenant_id)
            raise JobConflict(job_id, current.status, f"job {job_id} is {current.status.value} and cannot be cancelled")
        return self._stop(job)

    def _stop(self, job: Job) -> CancelReport:
        stopped = self.workflows.stop(job.execution_name or execution_name(job.job_id, job.attempt), self.reason)
        if job.status is JobStatus.PENDING_UPLOAD and job.upload_id:
            self._abort_upload(job)
        removed = self.objects.remove_all(self.settings.processed_bucket, output_prefix(job.job_id))
        return CancelReport(
            job_id=job.job_id, status=JobStatus.CANCELLED, execution_stopped=stopped, outputs_removed=len(removed)
        )

    def _abort_upload(self, job: Job) -> None:
        try:
            self.uploads.abort(job.raw_key, job.upload_id or "")
        except Exception as exc:  # already completed or aborted: nothing left to abort
            if "NoSuchUpload" not in repr(exc):
                raise

    def retry(self, job_id: str, tenant_id: str) -> RetryReport:
        job = self.owned(job_id, tenant_id)
        if job.status not in RETRYABLE:
            raise JobConflict(
                job_id, job.status, f"job {job_id} is {job.status.value}: only FAILED or CANCELLED jobs can be retried"
            )
        if (job.upload_etag is None and job.uploaded_bytes is None) or not self.objects.exists(
            job.raw_bucket, job.raw_key
        ):
            raise JobConflict(
                job_id,
                job.status,
                f"job {job_id} has no stored upload to process again (it never arrived or has expired); upload the "
                "file again",
            )
        attempt = job.attempt + 1
        name = execution_name(job_id, attempt)
        # What a failed or cancelled attempt left behind would otherwise mix with the new attempt's outputs.
        self.objects.remove_all(self.settings.processed_bucket, output_prefix(job_id))
        if not self.jobs.restart(
            job_id,
            attempt=attempt,
            entry=TimelineEntry(step="Retried", outcome="info", detail=f"attempt {attempt}", attempt=attempt),
            fields={"execution_name": name, "outputs": []},
            remove=("error", "completed_at"),
        ):
            current = self.owned(job_id, tenant_id)
            raise JobConflict(
                job_id, current.status, f"job {job_id} is {current.status.value} (attempt {current.attempt}) already"
            )
        restarted = self.owned(job_id, tenant_id)
        # If this start is lost, the job stays QUEUED without an execution and the reconciler starts it.
        self.workflows.start(execution_input(restarted, self.settings))
        return RetryReport(job_id=job_id, status=JobStatus.QUEUED, attempt=attempt, execution_name=name)

    def delete(self, job_id: str, tenant_id: str) -> DeletionReport:
        job = self.owned(job_id, tenant_id)
        cancelled = False
        outputs_removed = 0
        if job.status in ACTIVE_STATUSES:
            try:
                outputs_removed = self.cancel(job_id, tenant_id).outputs_removed
                cancelled = True
            except JobConflict:
                pass  # it ended meanwhile: nothing to stop
        elif job.upload_id and job.status is JobStatus.FAILED:
            self._abort_upload(job)  # an aborted or abandoned multipart upload may still hold parts
        raw = self.objects.remove_all(job.raw_bucket, upload_prefix(job))
        outputs_removed += len(self.objects.remove_all(self.settings.processed_bucket, output_prefix(job_id)))
        records = ["media"] if self.media.delete(job_id) else []
        deliveries = self.deliveries.delete_for_job(job_id)
        # The job's record goes last: until then a failed delete can be asked for again.
        if self.jobs.delete(job_id):
            records.insert(0, "job")
        # Once more, now that the job is gone: the webhooks function may have written a delivery of the job's last
        # event (the cancel above announces one) after the first sweep; from now on it writes none, and removes
        # what it wrote if it finds the job gone afterwards (lambdas/webhooks/service.py).
        try:
            deliveries += self.deliveries.delete_for_job(job_id)
        except Exception:  # the job is gone (a second DELETE answers 404); what is left expires with its TTL
            log.exception("could not sweep the webhook deliveries of deleted job %s again", job_id)
        return DeletionReport(
            job_id=job_id,
            cancelled=cancelled,
            raw_objects=raw,
            outputs_removed=outputs_removed,
            records=records,
            webhook_deliveries_removed=deliveries,
        )


def _attempt(job: Job) -> int | None:
    return job.attempt if job.attempt > 1 else None
