"""Starting and finding a job's Step Functions execution: one per job, named after the job id."""

import json

from lambdas.shared.context import settings
from smmu import aws


def execution_arn(job_id: str) -> str:
    return settings().state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + job_id


def start_pipeline(job_id: str, bucket: str, key: str) -> str | None:
    """Start the job's execution; None if it already exists (the name makes a second start impossible)."""
    sfn = aws.client("stepfunctions")
    try:
        started = sfn.start_execution(
            stateMachineArn=settings().state_machine_arn,
            name=job_id,
            input=json.dumps(
                {
                    "job_id": job_id,
                    "bucket": bucket,
                    "key": key,
                    # Task states read it (HeartbeatSecondsPath), so it is a setting, not a constant in the ASL.
                    "worker_heartbeat_seconds": settings().worker_heartbeat_timeout_seconds,
                }
            ),
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        return None
    return started["executionArn"]
