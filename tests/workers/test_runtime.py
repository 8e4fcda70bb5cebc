"""The worker runtime against moto: Step Functions' task-token pattern end to end, with real worker processes."""

import json
import os
import signal
from pathlib import Path

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


# How the runtime answers each kind of failure: the error name the state machine sees (its Retry and Catch match
# on it), the reason passed on, and how often the task ran — a retry only where a second try can help.
FAILURES = [
    pytest.param(b"corrupt", CorruptMediaError.__name__, ["the file is not audio or video (test)"], 1,
                 id="bad-input-not-retried"),
    pytest.param(b"crash", "WorkerError", ["RuntimeError", "the fake tool crashed"], 2,
                 id="unexpected-failure-retried"),
    pytest.param(b"bug", "ProcessingError", ["ValueError", "cannot be built"], 1,
                 id="deterministic-failure-not-retried"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "error", "cause_parts", "runs"), FAILURES)
def test_failures_reach_the_state_machine_with_their_error_name_and_reason(
    pipeline, state, tmp_path, body: bytes, error: str, cause_parts: list[str], runs: int
):
    job = pipeline.new_job(body)
    worker = pipeline.start_worker(FAKE, tmp_path / "worker.log", FAKE_WORKER_STATE=str(state))
    try:
        execution = pipeline.start(job)
        described = pipeline.wait(execution)
    finally:
        stop(worker)
    assert described["status"] == "FAILED"
    failure = pipeline.failure(execution)
    assert failure["error"] == error
    assert all(part in failure["cause"] for part in cause_parts), failure["cause"]
    assert len(_started(state, job)) == runs
    assert pipeline.keys(f"jobs/{job['job_id']}/") == set()


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


def _events(pipeline, execution: str) -> list[tuple[str, str]]:
    """The execution's history, compactly: (type, error or cause)."""
    events = pipeline.sfn.get_execution_history(executionArn=execution)["events"]
    found = []
    for event in events:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        found.append((event["type"], f"{details.get('error', '')} {details.get('cause', '')}"[:200]))
    return found


def _children(argv: list[str]) -> list[int]:
    """Pids of processes whose command line is exactly ``argv``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().split(b"\0")[:-1] == [a.encode() for a in argv]:
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_worker_killed_mid_task_is_failed_over_at_once_by_its_replacement(moto, state, tmp_path):
    """Workers sharing a scratch directory (one host): the replacement finds the dead worker's task and queues
    it again under its live token (no heartbeat timeout, no retry spent), and removes what the dead worker left.
    The dead worker's tool dies with it."""
    # A heartbeat timeout longer than the replacement's start, even on a loaded machine: the takeover, not the
    # timeout, must bring the task back.
    pipeline = Pipeline(moto, "fake", heartbeat=60)
    seconds = f"3600.{os.getpid()}"
    job = pipeline.new_job(f"tool-hang-once:{seconds}".encode())
    scratch = tmp_path / "scratch"
    first = pipeline.start_worker(FAKE, tmp_path / "first.log", FAKE_WORKER_STATE=str(state),
                                  SMMU_WORKER_TEMP_DIR=str(scratch))  # fmt: skip
    second = None
    try:
        execution = pipeline.start(job)
        wait_for(lambda: _children(["sleep", seconds]), 30, "the first worker never started its tool")
        [tool] = _children(["sleep", seconds])
        left = list((scratch / "smmu-fake").iterdir())
        assert left  # the dead worker's directory and lock
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        wait_for(lambda: not _children(["sleep", seconds]), 5, f"the tool {tool} outlived its worker")
        second = pipeline.start_worker(FAKE, tmp_path / "second.log", FAKE_WORKER_STATE=str(state),
                                       SMMU_WORKER_TEMP_DIR=str(scratch))  # fmt: skip
        described = pipeline.wait(execution, timeout=30)
        assert described["status"] == "SUCCEEDED", "; ".join(map(str, _events(pipeline, execution)))
        assert not any(path.exists() for path in left)
    finally:
        if second is not None:
            assert stop(second) == 0
    history = pipeline.sfn.get_execution_history(executionArn=execution)["events"]
    assert not [e for e in history if e["type"] in ("TaskTimedOut", "TaskFailed")]
    assert [e["type"] for e in history].count("TaskScheduled") == 1
    assert json.loads(described["output"])["result"]["pid"] == second.pid
    assert "dead worker left a task unanswered; queued it again" in (tmp_path / "second.log").read_text()
    assert pipeline.queue_empty()
    assert list((scratch / "smmu-fake").iterdir()) == []  # the second worker stopped cleanly too


def test_worker_killed_mid_task_is_replaced_after_the_heartbeat_times_out(pipeline, state, tmp_path):
    """Workers on separate disks (one container per task): the missed heartbeat is the signal."""
    job = pipeline.new_job(b"hang-once")
    prefix = f"jobs/{job['job_id']}/fake/"
    pipeline.s3.put_object(Bucket=pipeline.processed_bucket, Key=prefix + "partial.tmp", Body=b"from the crash")
    first = pipeline.start_worker(FAKE, tmp_path / "first.log", FAKE_WORKER_STATE=str(state),
                                  SMMU_WORKER_TEMP_DIR=str(tmp_path / "first"))  # fmt: skip
    second = None
    try:
        execution = pipeline.start(job)
        wait_for(lambda: _started(state, job), 30, "the first worker never started the task")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        second = pipeline.start_worker(FAKE, tmp_path / "second.log", FAKE_WORKER_STATE=str(state),
                                       SMMU_WORKER_TEMP_DIR=str(tmp_path / "second"))  # fmt: skip
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
        # The second worker is already polling when the first lets go (its start-up is not part of the test).
        second = pipeline.start_worker(FAKE, tmp_path / "second.log", FAKE_WORKER_STATE=str(state))
        wait_for(lambda: "worker ready" in (tmp_path / "second.log").read_text(), 30, "the second worker never started")
        first.send_signal(signal.SIGTERM)
        assert first.wait(20) == 0
        assert "releasing it unanswered" in (tmp_path / "first.log").read_text()
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
