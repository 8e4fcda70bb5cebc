"""The worker runtime against moto: Step Functions' task-token pattern end to end, with real worker processes."""

import json
import os
import signal

import pytest

from smmu.errors import CorruptMediaError
from smmu_stack.devkit.worker_pipeline import Moto, Pipeline, stop, wait_for

pytestmark = pytest.mark.integration

FAKE = "tests.workers.fake_worker"


@pytest.fixture(scope="module")
def moto(cloud):
    return Moto(cloud)


@pytest.fixture
def pipeline(moto):
    return Pipeline(moto, "fake")


@pytest.fixture
def state(tmp_path):
    path = tmp_path / "state"
    path.mkdir()
    return path


def _started(state, job):
    return [p for p in state.iterdir() if p.name.startswith(f"started-{job['job_id']}-")]


def test_success_uploads_outputs_answers_and_records_the_timeline(pipeline, state, tmp_path):
    job = pipeline.new_job(b"ok")
    prefix = f"jobs/{job['job_id']}/fake/"
    # A previous attempt left a file this attempt does not make: it must not survive.
    pipeline.s3.put_object(Bucket=pipeline.processed_bucket, Key=prefix + "data/stale.txt", Body=b"old")
    worker = pipeline.start_worker(FAKE, tmp_path / "worker.log", FAKE_WORKER_STATE=str(state))
    try:
        described = pipeline.wait(pipeline.start(job))
    finally:
        assert stop(worker) == 0, (tmp_path / "worker.log").read_text()
    assert described["status"] == "SUCCEEDED"
    result = json.loads(described["output"])["result"]
    assert result["job_id"] == job["job_id"]
    assert result["worker"] == "fake"
    assert result["mode"] == "ok"
    assert [o["key"] for o in result["outputs"]] == [prefix + "data/a.txt"]
    assert result["outputs"][0] == {
        "kind": "text",
        "key": prefix + "data/a.txt",
        "content_type": "text/plain",
        "size_bytes": len(f"a for {job['job_id']}"),
    }
    assert pipeline.keys(prefix) == {prefix + "data/a.txt", prefix + "data/b.txt"}
    head = pipeline.s3.head_object(Bucket=pipeline.processed_bucket, Key=prefix + "data/a.txt")
    assert head["ContentType"] == "text/plain"
    assert pipeline.queue_empty()
    item = pipeline.ddb.get_item(TableName=pipeline.jobs_table, Key={"job_id": {"S": job["job_id"]}})["Item"]
    entries = [entry["M"] for entry in item["timeline"]["L"]]
    assert [(e["step"]["S"], e["outcome"]["S"]) for e in entries] == [("Fake", "succeeded")]
    # Logs are JSON lines keyed by the job id.
    lines = [json.loads(line) for line in (tmp_path / "worker.log").read_text().splitlines() if line.startswith("{")]
    assert any(line.get("job_id") == job["job_id"] and line["message"] == "task succeeded" for line in lines)


def test_bad_input_fails_the_execution_with_its_error_name_and_reason(pipeline, state, tmp_path):
    job = pipeline.new_job(b"corrupt")
    worker = pipeline.start_worker(FAKE, tmp_path / "worker.log", FAKE_WORKER_STATE=str(state))
    try:
        execution = pipeline.start(job)
        described = pipeline.wait(execution)
    finally:
        stop(worker)
    assert described["status"] == "FAILED"
    failure = pipeline.failure(execution)
    assert failure["error"] == CorruptMediaError.__name__
    assert failure["cause"] == "the file is not audio or video (test)"
    assert len(_started(state, job)) == 1  # not retried: retrying cannot fix the input
    assert pipeline.keys(f"jobs/{job['job_id']}/") == set()


def test_unexpected_failure_is_a_retryable_worker_error(pipeline, state, tmp_path):
    job = pipeline.new_job(b"crash")
    worker = pipeline.start_worker(FAKE, tmp_path / "worker.log", FAKE_WORKER_STATE=str(state))
    try:
        execution = pipeline.start(job)
        described = pipeline.wait(execution)
    finally:
        stop(worker)
    assert described["status"] == "FAILED"
    failure = pipeline.failure(execution)
    assert failure["error"] == "WorkerError"
    assert "RuntimeError" in failure["cause"] and "the fake tool crashed" in failure["cause"]
    assert len(_started(state, job)) == 2  # the state machine's Retry on WorkerError ran it again


def test_missing_input_fails_as_object_missing(pipeline, state, tmp_path):
    job = pipeline.new_job(b"ok")
    pipeline.s3.delete_object(Bucket=job["bucket"], Key=job["key"])
    worker = pipeline.start_worker(FAKE, tmp_path / "worker.log", FAKE_WORKER_STATE=str(state))
    try:
        execution = pipeline.start(job)
        described = pipeline.wait(execution)
    finally:
        stop(worker)
    assert described["status"] == "FAILED"
    assert pipeline.failure(execution)["error"] == "ObjectMissingError"


def test_worker_killed_mid_task_is_replaced_after_the_heartbeat_times_out(pipeline, state, tmp_path):
    job = pipeline.new_job(b"hang-once")
    prefix = f"jobs/{job['job_id']}/fake/"
    pipeline.s3.put_object(Bucket=pipeline.processed_bucket, Key=prefix + "partial.tmp", Body=b"from the crash")
    first = pipeline.start_worker(FAKE, tmp_path / "first.log", FAKE_WORKER_STATE=str(state))
    second = None
    try:
        execution = pipeline.start(job)
        wait_for(lambda: _started(state, job), 30, "the first worker never started the task")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        second = pipeline.start_worker(FAKE, tmp_path / "second.log", FAKE_WORKER_STATE=str(state))
        described = pipeline.wait(execution, timeout=60)
        assert described["status"] == "SUCCEEDED", pipeline.sfn.get_execution_history(executionArn=execution)
        # The killed worker's message comes back once its visibility lapses; its token is dead by then and
        # the second worker drops it without doing the work again.
        wait_for(pipeline.queue_empty, 30, "the dead task's message was never cleared")
    finally:
        if second is not None:
            assert stop(second) == 0
    history = pipeline.sfn.get_execution_history(executionArn=execution)["events"]
    timeouts = [e for e in history if e["type"] == "TaskTimedOut"]
    assert timeouts, "the first attempt should have timed out on its heartbeat"
    result = json.loads(described["output"])["result"]
    assert result["pid"] == second.pid
    assert pipeline.keys(prefix) == {prefix + "data/a.txt", prefix + "data/b.txt"}
    second_log = (tmp_path / "second.log").read_text()
    assert "task token is no longer valid" in second_log
    assert len(_started(state, job)) == 2  # the stale redelivery was not worked on


def test_sigterm_lets_the_running_task_finish(pipeline, state, tmp_path):
    job = pipeline.new_job(b"slow:2")
    worker = pipeline.start_worker(FAKE, tmp_path / "worker.log", FAKE_WORKER_STATE=str(state))
    try:
        execution = pipeline.start(job)
        wait_for(lambda: _started(state, job), 30, "the worker never started the task")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0
        described = pipeline.wait(execution)
    finally:
        stop(worker)
    assert described["status"] == "SUCCEEDED"
    assert pipeline.queue_empty()


def test_sigterm_past_the_grace_period_releases_the_task_to_another_worker(pipeline, state, tmp_path):
    job = pipeline.new_job(b"hang-once")
    first = pipeline.start_worker(
        FAKE, tmp_path / "first.log", FAKE_WORKER_STATE=str(state), SMMU_WORKER_SHUTDOWN_GRACE_SECONDS="0.5"
    )
    second = None
    try:
        execution = pipeline.start(job)
        wait_for(lambda: _started(state, job), 30, "the first worker never started the task")
        first.send_signal(signal.SIGTERM)
        assert first.wait(20) == 0
        assert "releasing it unanswered" in (tmp_path / "first.log").read_text()
        second = pipeline.start_worker(FAKE, tmp_path / "second.log", FAKE_WORKER_STATE=str(state))
        described = pipeline.wait(execution)
    finally:
        if second is not None:
            stop(second)
    assert described["status"] == "SUCCEEDED"
    history = pipeline.sfn.get_execution_history(executionArn=execution)["events"]
    assert not [e for e in history if e["type"] == "TaskTimedOut"], "the released task should not have timed out"
    assert json.loads(described["output"])["result"]["pid"] == second.pid


def test_a_message_without_a_token_is_dropped(pipeline, state, tmp_path):
    pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=json.dumps({"job_id": "x"}))
    worker = pipeline.start_worker(FAKE, tmp_path / "worker.log", FAKE_WORKER_STATE=str(state))
    try:
        wait_for(pipeline.queue_empty, 20, "the malformed message was not removed")
    finally:
        assert stop(worker) == 0
    assert "not a task" in (tmp_path / "worker.log").read_text()
    assert os.listdir(state) == []


def test_a_task_whose_token_stays_invalid_is_dropped_unprocessed(pipeline, state, tmp_path):
    """A first heartbeat refused with InvalidToken is retried for a moment (LocalStack registers heartbeats only
    after sending the task), then the message is dropped and nothing is processed."""
    body = {"task_token": "not-a-token", "job_id": "j-invalid", "bucket": "b", "key": "uploads/j-invalid/a.mp4"}
    pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=json.dumps(body))
    worker = pipeline.start_worker(FAKE, tmp_path / "worker.log", FAKE_WORKER_STATE=str(state))
    try:
        wait_for(pipeline.queue_empty, 20, "the message with an invalid token was not removed")
    finally:
        assert stop(worker) == 0
    assert "task token is no longer valid" in (tmp_path / "worker.log").read_text()
    assert os.listdir(state) == []
