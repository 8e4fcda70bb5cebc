"""Jobs stuck QUEUED or RUNNING outside the state machine's reach are settled by the scheduled reconciler."""

import json
import time
import uuid

import pytest

from smmu.jobs import JobStatus
from smmu.repository import JobRepository
from tests.conftest import make_job

pytestmark = pytest.mark.integration


def _wait_terminal(jobs, job_id, timeout=30):
    deadline = time.monotonic() + timeout
    while (job := jobs.get(job_id)).status not in (JobStatus.COMPLETED, JobStatus.FAILED):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    return job


def _wait_execution(sfn, arn, timeout=30):
    deadline = time.monotonic() + timeout
    while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return status


def test_stuck_jobs_are_restarted_or_failed(aws, provisioned):
    jobs = JobRepository(provisioned.environment["SMMU_JOBS_TABLE"], aws("dynamodb"))
    machine = provisioned.state_machine_arns["pipeline"]
    sfn = aws("stepfunctions")
    queued_without_execution = make_job(jobs, JobStatus.QUEUED)
    running_without_execution = make_job(jobs, JobStatus.RUNNING)
    # An execution that ended without writing its result: it ran before its job existed.
    ended = str(uuid.uuid4())
    arn = sfn.start_execution(
        stateMachineArn=machine,
        name=ended,
        input=json.dumps({"job_id": ended, "bucket": "smmu-raw", "key": "uploads/x/a.jpg"}),
    )
    assert _wait_execution(sfn, arn["executionArn"]) == "FAILED"
    make_job(jobs, JobStatus.RUNNING, job_id=ended)

    response = aws("lambda").invoke(FunctionName="smmu-reconcile", Payload=json.dumps({"grace_seconds": 0}).encode())
    assert not response.get("FunctionError"), response["Payload"].read()
    report = json.loads(response["Payload"].read())

    assert queued_without_execution in report["restarted"]
    assert {running_without_execution, ended} <= set(report["failed"])
    never = jobs.get(running_without_execution)
    assert never.status is JobStatus.FAILED
    assert never.error.message == "the workflow for this job never started"
    lost = jobs.get(ended)
    assert lost.status is JobStatus.FAILED
    assert lost.error.message == "the workflow ended as FAILED without recording a result"
    # The restarted job runs the real pipeline, which finds its upload missing.
    restarted = _wait_terminal(jobs, queued_without_execution)
    assert restarted.status is JobStatus.FAILED
    assert restarted.error.step == "ValidateInput"
    assert "no longer in the upload bucket" in restarted.error.message
