"""Starting a job's pipeline execution: one per attempt of a job, named after the job id (and the attempt)."""

from lambdas.shared.context import settings, workflows
from smmu.jobs import Job
from smmu.lifecycle import execution_input


def start_pipeline(job: Job) -> str | None:
    """Start the execution of the job's current attempt; None if it already exists (the name makes a second
    start impossible)."""
    return workflows().start(execution_input(job, settings()))
