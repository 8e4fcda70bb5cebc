import itertools
import json

import pytest

from smmu.jobs import ALLOWED_TRANSITIONS, JobStatus, can_transition, job_error_from_step_functions, new_job

pytestmark = pytest.mark.unit

ORDER = [JobStatus.PENDING_UPLOAD, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.COMPLETED]


def test_forward_path():
    for current, target in itertools.pairwise(ORDER):
        assert can_transition(current, target)


@pytest.mark.parametrize("current", list(JobStatus))
@pytest.mark.parametrize("target", list(JobStatus))
def test_never_backwards_and_terminal_is_final(current, target):
    allowed = can_transition(current, target)
    if current in (JobStatus.COMPLETED, JobStatus.FAILED):
        assert not allowed
    if current in ORDER and target in ORDER and ORDER.index(target) <= ORDER.index(current):
        assert not allowed


def test_any_active_status_can_fail():
    assert ALLOWED_TRANSITIONS[JobStatus.FAILED] == {
        JobStatus.PENDING_UPLOAD,
        JobStatus.QUEUED,
        JobStatus.RUNNING,
    }


def test_lambda_error_becomes_a_readable_reason():
    cause = json.dumps({"errorType": "EmptyObjectError", "errorMessage": "the uploaded file is empty (0 bytes)"})
    error = job_error_from_step_functions("ValidateInput", "EmptyObjectError", cause)
    assert error.step == "ValidateInput"
    assert error.code == "EMPTY_FILE"
    assert error.message == "ValidateInput failed: the uploaded file is empty (0 bytes)"


def test_timeout_and_unknown_errors():
    timeout = job_error_from_step_functions("ProcessImage", "States.Timeout", "")
    assert timeout.code == "STEP_TIMEOUT"
    assert "States.Timeout" in timeout.message
    crash = job_error_from_step_functions("ProcessImage", "KeyError", "{not json")
    assert crash.code == "INTERNAL_ERROR"


def test_new_job_is_pending_with_expiry():
    job = new_job(
        job_id="j",
        filename="a.jpg",
        content_type="image/jpeg",
        size_bytes=3,
        raw_bucket="b",
        raw_key="uploads/j/a.jpg",
        upload_ttl_seconds=900,
        pending_ttl_seconds=86400,
    )
    assert job.status is JobStatus.PENDING_UPLOAD
    assert job.expires_at is not None
    assert job.upload_expires_at > job.created_at
