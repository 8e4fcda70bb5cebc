"""What the emulated Step Functions answers a worker's heartbeat once the execution was stopped (a cancel): a code
the worker runtime takes as "the token is gone" (``workers.runtime.TOKEN_GONE``), so it drops the task. AWS
answers TaskTimedOut; the emulator's own answer is pinned here."""

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from workers.runtime import TOKEN_GONE

pytestmark = pytest.mark.integration


def test_a_heartbeat_after_stop_execution_is_refused_as_a_gone_token(provisioned, aws):
    sqs, sfn = aws("sqs"), aws("stepfunctions")
    queue = sqs.create_queue(QueueName=f"token-test-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    definition = {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
                "HeartbeatSeconds": 60,
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name=f"token-test-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{provisioned.account.account_id}:role/smmu-test",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="cancelled", input="{}")["executionArn"]
    deadline = time.monotonic() + 30
    while not (messages := sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages")):
        assert time.monotonic() < deadline, "the task was never sent"
    token = json.loads(messages[0]["Body"])["token"]
    # Alive while the execution runs (the emulator may refuse it for a moment right after sending the message,
    # as the worker runtime's first heartbeat allows for).
    while True:
        try:
            sfn.send_task_heartbeat(taskToken=token)
            break
        except ClientError:
            assert time.monotonic() < deadline, "the token was never accepted"
            time.sleep(0.2)

    stopped = time.monotonic()
    sfn.stop_execution(executionArn=execution, error="Cancelled", cause="test")
    code = None
    while code is None and time.monotonic() - stopped < 15:
        try:
            sfn.send_task_heartbeat(taskToken=token)
            time.sleep(0.5)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
    print(f"heartbeat refused after {time.monotonic() - stopped:.1f}s with {code}")
    assert code in TOKEN_GONE, code
    while (status := sfn.describe_execution(executionArn=execution)["status"]) == "RUNNING":
        assert time.monotonic() - stopped < 15, status
        time.sleep(0.2)
    # AWS says ABORTED; the embedded emulator reports the stopped execution as FAILED. Either way it has ended.
    assert status in ("ABORTED", "FAILED"), status
