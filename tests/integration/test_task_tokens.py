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
    sfn.send_task_heartbeat(taskToken=token)  # alive while the execution runs

    sfn.stop_execution(executionArn=execution, error="Cancelled", cause="test")
    with pytest.raises(ClientError) as refused:
        sfn.send_task_heartbeat(taskToken=token)
    code = refused.value.response["Error"]["Code"]
    assert code in TOKEN_GONE, code
    assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"
