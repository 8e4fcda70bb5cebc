"""UpdateStatus: the state machine's only writer of job status (RUNNING, COMPLETED, FAILED).

Writes are conditional (see ``smmu.jobs.ALLOWED_TRANSITIONS``): a transition the job's current status does not
allow is reported as ``changed: false`` and leaves the job as it is, never moving it backwards.
"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.shared.context import jobs, logger
from lambdas.shared.step import typed_handler
from smmu.contracts import MarkCompleted, MarkFailed, MarkRunning, StatusUpdate, StatusUpdateResult
from smmu.jobs import JobStatus, TimelineEntry, dump, fail_job, job_error_from_step_functions, now_iso


@logger.inject_lambda_context
@typed_handler
def lambda_handler(event: StatusUpdate, context: LambdaContext) -> StatusUpdateResult:
    target = event.status
    logger.append_keys(job_id=event.job_id, target_status=target.value)
    repo = jobs()
    # Entries of a retried job's later attempts say which attempt they belong to.
    attempt = event.attempt if event.attempt and event.attempt > 1 else None
    match event:
        case MarkRunning():
            changed = repo.transition(
                event.job_id,
                target,
                entry=TimelineEntry(step="Started", outcome="info", attempt=attempt),
                attempt=event.attempt,
            )
        case MarkCompleted():
            outputs = [dump(o) for o in event.all_outputs()]
            changed = repo.transition(
                event.job_id,
                target,
                entry=TimelineEntry(
                    step="Completed", outcome="info", detail=f"{len(outputs)} outputs", attempt=attempt
                ),
                fields={
                    "outputs": outputs,
                    "completed_at": now_iso(),
                    **({"language": event.language} if event.language else {}),
                },
                attempt=event.attempt,
            )
        case MarkFailed():
            error = job_error_from_step_functions(event.failed_step, event.error.Error, event.error.Cause)
            changed = fail_job(repo, event.job_id, error, timeline_step="Failed", attempt=event.attempt)
    current = repo.get(event.job_id)
    same_attempt = current is not None and (event.attempt is None or current.attempt == event.attempt)
    if not changed:
        logger.warning(
            "transition refused by the job's current status (or attempt)",
            current_status=current.status.value if current else None,
            current_attempt=current.attempt if current else None,
        )
    return StatusUpdateResult(
        job_id=event.job_id,
        status=target,
        changed=changed,
        current_status=current.status if current is not None and same_attempt else None,
        proceed=current is not None and same_attempt and current.status is JobStatus.RUNNING,
    )
