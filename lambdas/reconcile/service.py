"""Find jobs stuck QUEUED or RUNNING and settle them from their execution's real state.

A job can only be left active if something failed outside the state machine's own Catch: the dispatcher died
between QUEUED and StartExecution with its message later dead-lettered, the execution hit its overall timeout
or was stopped by hand, or MarkFailed itself could not write. Each stuck job is either restarted (QUEUED, no
execution) or marked FAILED with what happened.
"""

from datetime import UTC, datetime, timedelta
from typing import Literal

from lambdas.shared.context import jobs, logger, objects, settings, uploads, workflows
from lambdas.shared.pipeline import start_pipeline
from smmu.contracts import ReconcileReport
from smmu.errors import UploadAbandonedError, WorkflowLostError
from smmu.jobs import Job, JobError, JobStatus, TimelineEntry, execution_name, fail_job, isoformat
from smmu.keys import OUTPUT_PREFIX, UPLOAD_PREFIX, job_id_from_upload_key


def _fail(job: Job, message: str) -> bool:
    error = JobError(step="Reconcile", code=WorkflowLostError.code, message=message)
    return fail_job(jobs(), job.job_id, error, timeline_step="Reconciled")


def settle(job: Job) -> Literal["restarted", "failed"] | None:
    """Restart or fail one stuck job; None if it is not stuck after all (or another writer settled it)."""
    status = workflows().status(job.execution_name or execution_name(job.job_id, job.attempt))
    if status == "RUNNING":
        return None  # a long job, not a stuck one
    if status is None and job.status is JobStatus.QUEUED:
        start_pipeline(job)
        jobs().record_step(job.job_id, TimelineEntry(step="Reconciled", outcome="info", detail="execution restarted"))
        logger.warning("queued job had no execution; started it", job_id=job.job_id)
        return "restarted"
    reason = (
        "the workflow for this job never started"
        if status is None
        else f"the workflow ended as {status} without recording a result"
    )
    if _fail(job, reason):
        logger.warning("stuck job marked FAILED", job_id=job.job_id, execution_status=status)
        return "failed"
    return None


def abort_abandoned(max_age_seconds: int) -> list[str]:
    """Abort the multipart uploads started more than ``max_age_seconds`` ago (S3 discards their parts) and fail
    their jobs; the ids of the jobs. An upload of no known job is aborted too: nothing could ever complete it."""
    aborted = []
    cutoff = datetime.now(UTC) - timedelta(seconds=max_age_seconds)
    for key, upload_id in uploads().incomplete(UPLOAD_PREFIX, cutoff):
        uploads().abort(key, upload_id)
        job_id = job_id_from_upload_key(key)
        job = jobs().get(job_id) if job_id else None
        logger.warning("abandoned multipart upload aborted", key=key, job_id=job_id)
        if job is None or job.upload_id != upload_id:
            continue
        error = JobError(
            step="Upload",
            code=UploadAbandonedError.code,
            message=f"the multipart upload was not completed within {max_age_seconds} seconds; its parts were "
            "discarded",
        )
        if fail_job(jobs(), job.job_id, error, timeline_step="UploadAbandoned"):
            aborted.append(job.job_id)
    return aborted


def expire(raw_days: int, output_days: int) -> tuple[int, int]:
    """Remove uploads older than ``raw_days`` and outputs older than ``output_days`` (0: keep them), as the
    buckets' expiration rules do on AWS (infra/resources.json ``expire_after_days``); here the emulators keep a
    lifecycle configuration but never apply it. (files of uploads, files of outputs) removed."""
    now = datetime.now(UTC)
    removed = []
    for bucket, prefix, days in (
        (settings().raw_bucket, UPLOAD_PREFIX, raw_days),
        (settings().processed_bucket, OUTPUT_PREFIX, output_days),
    ):
        gone = objects().expire(bucket, prefix, now - timedelta(days=days)) if days > 0 else []
        if gone:
            logger.info("expired files removed", bucket=bucket, count=len(gone), retention_days=days)
        removed.append(len(gone))
    return removed[0], removed[1]


def reconcile(
    grace_seconds: int,
    abandoned_upload_seconds: int | None = None,
    retention_days: tuple[int, int] | None = None,
) -> ReconcileReport:
    """Settle every QUEUED or RUNNING job not updated for ``grace_seconds``; abort multipart uploads older than
    ``abandoned_upload_seconds`` (None: leave them); remove uploads and outputs beyond ``retention_days``
    (uploads, outputs; None: leave them)."""
    aborted = abort_abandoned(abandoned_upload_seconds) if abandoned_upload_seconds is not None else []
    expired = expire(*retention_days) if retention_days is not None else (0, 0)
    cutoff = isoformat(datetime.now(UTC) - timedelta(seconds=grace_seconds))
    checked = 0
    settled: dict[str, list[str]] = {"restarted": [], "failed": []}
    for status in (JobStatus.QUEUED, JobStatus.RUNNING):
        cursor = None
        while True:
            page, cursor = jobs().list(status=status, limit=100, cursor=cursor)
            for job in page:
                if job.updated_at <= cutoff:
                    checked += 1
                    outcome = settle(job)
                    if outcome:
                        settled[outcome].append(job.job_id)
            if cursor is None:
                break
    return ReconcileReport(
        checked=checked,
        aborted_uploads=aborted,
        expired_uploads=expired[0],
        expired_outputs=expired[1],
        **settled,
    )
