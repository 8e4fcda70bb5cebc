"""The worker runtime's pure parts: task messages and settings."""

import json

import pytest

from workers.runtime import Task, _truncate
from workers.settings import RuntimeSettings, queue_settings

pytestmark = pytest.mark.unit


def message(body: dict) -> dict:
    return {
        "MessageId": "m-1",
        "ReceiptHandle": "r-1",
        "Body": json.dumps(body),
        "Attributes": {"ApproximateReceiveCount": "3"},
    }


def test_a_task_message_as_step_functions_sends_it():
    body = {"task_token": "tok", "job_id": "j", "bucket": "b", "key": "uploads/j/a.mp4", "media_type": "video"}
    task = Task.from_message(message(body))
    assert (task.token, task.job_id, task.bucket, task.key, task.media_type) == (
        "tok",
        "j",
        "b",
        "uploads/j/a.mp4",
        "video",
    )
    assert (task.receipt_handle, task.receive_count) == ("r-1", 3)


@pytest.mark.parametrize("missing", ["task_token", "job_id", "bucket", "key"])
def test_a_message_missing_a_field_is_not_a_task(missing):
    body = {"task_token": "tok", "job_id": "j", "bucket": "b", "key": "k"}
    del body[missing]
    with pytest.raises(ValueError, match=missing):
        Task.from_message(message(body))


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SMMU_WORKER_HEARTBEAT_SECONDS", "7")
    monkeypatch.setenv("SMMU_TRANSCODE_QUEUE_URL", "http://queue/transcode")
    monkeypatch.setenv("SMMU_TRANSCRIBE_QUEUE", "my-transcribe")
    assert RuntimeSettings().heartbeat_seconds == 7.0
    assert queue_settings("transcode").queue_url == "http://queue/transcode"
    transcribe = queue_settings("transcribe")
    assert (transcribe.queue_url, transcribe.queue) == ("", "my-transcribe")


def test_a_worker_without_its_queue_refuses_to_start(monkeypatch):
    monkeypatch.delenv("SMMU_TRANSCODE_QUEUE_URL", raising=False)
    monkeypatch.delenv("SMMU_TRANSCODE_QUEUE", raising=False)
    with pytest.raises(ValueError, match="SMMU_TRANSCODE_QUEUE_URL"):
        queue_settings("transcode")


def test_failure_fields_fit_step_functions_limits():
    assert _truncate("x" * 300, 256) == "x" * 255 + "…"
    assert _truncate("short", 256) == "short"
