"""UpdateStatus: the state machine's only writer of job status (RUNNING, COMPLETED, FAILED).

Writes are conditional (see ``smmu.jobs.ALLOWED_TRANSITIONS``): a transition the job's current status does not
allow is reported as ``changed: false`` and leaves the job as it is, never moving it backwards.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.shared.context import jobs, logger
from smmu.jobs import JobStatus, Output, TimelineEntry, dump, job_error_from_step_functions, now_iso


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job_id = event["job_id"]
    target = JobStatus(event["status"])
    logger.append_keys(job_id=job_id, target_status=target.value)
    repo = jobs()
    if target is JobStatus.RUNNING:
        changed = repo.transition(job_id, target, entry=TimelineEntry(step="Started", outcome="info"))
    elif target is JobStatus.COMPLETED:
        # Image jobs pass one list; media jobs one group per parallel branch (transcode, transcribe).
        produced = [
            *event.get("outputs", []),
            *(o for group in event.get("output_groups", []) for o in group["outputs"]),
        ]
        outputs = [dump(Output.model_validate(o)) for o in produced]
        changed = repo.transition(
            job_id,
            target,
            entry=TimelineEntry(step="Completed", outcome="info", detail=f"{len(outputs)} outputs"),
            fields={"outputs": outputs, "completed_at": now_iso()},
        )
    elif target is JobStatus.FAILED:
        error = job_error_from_step_functions(event.get("failed_step", "Unknown"), event.get("error", {}))
        changed = repo.transition(
            job_id,
            target,
            entry=TimelineEntry(step="Failed", outcome="info", detail=error.message),
            fields={"error": dump(error), "completed_at": now_iso()},
            remove=("expires_at",),
        )
    else:
        raise ValueError(f"the state machine cannot set status {target.value}")
    if not changed:
        current = repo.get(job_id)
        logger.warning(
            "transition refused by the job's current status",
            current_status=current.status.value if current else None,
        )
    return {"job_id": job_id, "status": target.value, "changed": changed}
