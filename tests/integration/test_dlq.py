"""Dead-letter queues: listed with what feeds them, inspected without losing anything, sent back; a clear log line
when one receives a message."""

import json
import logging
import subprocess
import sys
import uuid

import pytest

from smmu_stack.dlq import DeadLetterWatch, dead_letter_queues, find, peek, redrive
from smmu_stack.manifest import REPO_ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def queues(aws):
    """A source queue that dead-letters after one receive, and its DLQ (unique names: the cloud is shared)."""
    sqs = aws("sqs")
    suffix = uuid.uuid4().hex[:8]
    dlq_url = sqs.create_queue(QueueName=f"work-{suffix}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    url = sqs.create_queue(QueueName=f"work-{suffix}", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    yield sqs, f"work-{suffix}", url, f"work-{suffix}-dlq"
    for queue_url in (url, dlq_url):
        sqs.delete_queue(QueueUrl=queue_url)


def _dead_letter(sqs, url: str, bodies: list[str]) -> None:
    """Send, then receive each message past its maxReceiveCount: SQS moves it to the DLQ."""
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    for _ in range(3):
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)


def _count(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def test_list_show_redrive_and_the_log_line(queues, caplog):
    sqs, source, url, dlq = queues
    watch = DeadLetterWatch(sqs)
    watch.check()  # the baseline
    bodies = [json.dumps({"job_id": f"job-{i}", "n": i}) for i in range(3)]
    _dead_letter(sqs, url, bodies)

    [queue] = [q for q in dead_letter_queues(sqs) if q.name == dlq]
    assert queue.sources[0][0] == source and queue.messages == 3
    with caplog.at_level(logging.WARNING, logger="smmu.dlq"):
        [line] = [line for line in watch.check() if dlq in line]
    assert f"dead-letter queue {dlq} received 3 message(s) from {source}" in line
    assert line in caplog.text
    assert not [line for line in watch.check() if dlq in line]  # said once, not on every check

    shown = peek(sqs, queue, limit=10)
    assert sorted(m["job_id"] for m in shown) == ["job-0", "job-1", "job-2"]
    assert all(m["receive_count"] >= 1 and m["sent_at"] for m in shown)
    assert _count(sqs, find(sqs, dlq).url) == 3  # looking took nothing away

    result = redrive(sqs, find(sqs, dlq))
    assert result == {"method": "receive-send-delete", "moved": 3, "destination": source}
    assert _count(sqs, find(sqs, dlq).url) == 0
    back = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    assert sorted(m["Body"] for m in back) == sorted(bodies)


def test_the_command_line(queues, cloud):
    sqs, _, url, dlq = queues
    _dead_letter(sqs, url, ["one"])

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "smmu_stack.cli", "dlq", *args, "--endpoint-url", cloud.endpoint_url]
        return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)

    def smmu(*args: str) -> str:
        done = run(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert dlq in smmu("list")
    assert '"body": "one"' in smmu("show", dlq)
    assert '"moved": 1' in smmu("redrive", dlq)
    assert _count(sqs, url) == 1
    missing = run("show", "nope")
    assert missing.returncode == 1 and "is not a dead-letter queue" in missing.stdout
