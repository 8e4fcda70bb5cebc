"""Find jobs stuck QUEUED or RUNNING and settle them from their execution's real state.

A job can only be left active if something failed outside the state machine's own Catch: the dispatcher died
between QUEUED and StartExecution with its message later dead-lettered, the execution hit its overall timeout
or was stopped by hand, or MarkFailed itself could not write. Each stuck job is either restarted (QUEUED, no
execution) or marked FAILED with what happened.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lambdas.shared.context import jobs, logger
from lambdas.shared.pipeline import execution_arn, start_pipeline
from smmu import aws
from smmu.jobs import Job, JobError, JobStatus, TimelineEntry, dump, isoformat, now_iso


@dataclass
class Report:
    checked: int = 0
    restarted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _fail(job: Job, message: str) -> bool:
    error = JobError(step="Reconcile", code="WORKFLOW_LOST", message=message)
    return jobs().transition(
        job.job_id,
        JobStatus.FAILED,
        entry=TimelineEntry(step="Reconciled", outcome="info", detail=message),
        fields={"error": dump(error), "completed_at": now_iso()},
    )


def settle(job: Job, report: Report) -> None:
    sfn = aws.client("stepfunctions")
    try:
        status = sfn.describe_execution(executionArn=execution_arn(job.job_id))["status"]
    except sfn.exceptions.ExecutionDoesNotExist:
        status = None
    if status == "RUNNING":
        return  # a long job, not a stuck one
    if status is None and job.status is JobStatus.QUEUED:
        start_pipeline(job.job_id, job.raw_bucket, job.raw_key)
        jobs().record_step(job.job_id, TimelineEntry(step="Reconciled", outcome="info", detail="execution restarted"))
        report.restarted.append(job.job_id)
        logger.warning("queued job had no execution; started it", job_id=job.job_id)
        return
    reason = (
        "the workflow for this job never started"
        if status is None
        else f"the workflow ended as {status} without recording a result"
    )
    if _fail(job, reason):
        report.failed.append(job.job_id)
        logger.warning("stuck job marked FAILED", job_id=job.job_id, execution_status=status)


def reconcile(grace_seconds: int) -> Report:
    """Settle every QUEUED or RUNNING job not updated for ``grace_seconds``."""
    cutoff = isoformat(datetime.now(UTC) - timedelta(seconds=grace_seconds))
    report = Report()
    for status in (JobStatus.QUEUED, JobStatus.RUNNING):
        cursor = None
        while True:
            page, cursor = jobs().list(status=status, limit=100, cursor=cursor)
            for job in page:
                if job.updated_at <= cutoff:
                    report.checked += 1
                    settle(job, report)
            if cursor is None:
                break
    return report
