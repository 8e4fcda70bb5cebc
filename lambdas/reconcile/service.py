"""Find jobs stuck QUEUED or RUNNING and settle them from their execution's real state.

A job can only be left active if something failed outside the state machine's own Catch: the dispatcher died
between QUEUED and StartExecution with its message later dead-lettered, the execution hit its overall timeout
or was stopped by hand, or MarkFailed itself could not write. Each stuck job is either restarted (QUEUED, no
execution) or marked FAILED with what happened.
"""

from datetime import UTC, datetime, timedelta
from typing import Literal

from lambdas.shared.context import jobs, logger, workflows
from lambdas.shared.pipeline import start_pipeline
from smmu.contracts import ReconcileReport
from smmu.errors import WorkflowLostError
from smmu.jobs import Job, JobError, JobStatus, TimelineEntry, fail_job, isoformat


def _fail(job: Job, message: str) -> bool:
    error = JobError(step="Reconcile", code=WorkflowLostError.code, message=message)
    return fail_job(jobs(), job.job_id, error, timeline_step="Reconciled")


def settle(job: Job) -> Literal["restarted", "failed"] | None:
    """Restart or fail one stuck job; None if it is not stuck after all (or another writer settled it)."""
    status = workflows().status(job.job_id)
    if status == "RUNNING":
        return None  # a long job, not a stuck one
    if status is None and job.status is JobStatus.QUEUED:
        start_pipeline(job.job_id, job.raw_bucket, job.raw_key)
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


def reconcile(grace_seconds: int) -> ReconcileReport:
    """Settle every QUEUED or RUNNING job not updated for ``grace_seconds``."""
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
    return ReconcileReport(checked=checked, **settled)
