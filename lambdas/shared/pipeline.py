"""Starting a job's pipeline execution: one per job, named after the job id."""

from lambdas.shared.context import settings, workflows
from smmu.contracts import ExecutionInput


def start_pipeline(job_id: str, bucket: str, key: str) -> str | None:
    """Start the job's execution; None if it already exists (the name makes a second start impossible)."""
    return workflows().start(
        ExecutionInput(
            job_id=job_id,
            bucket=bucket,
            key=key,
            worker_heartbeat_seconds=settings().worker_heartbeat_timeout_seconds,
        )
    )
