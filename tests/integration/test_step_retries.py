"""The pipeline's own retriers on the emulated Step Functions: a function step whose invoke outlives the state's
timeout (an invoke that waited for an environment under a burst) is run again, and the execution goes on.

The state is the pipeline's MarkRunning with its Retry list as written in ``sfn/pipeline.asl.json``; only its
timeout is shortened (2 s instead of 150 s) and the function is a probe whose first invoke is slow."""

import json
import textwrap
import time
import uuid

import pytest

from smmu_stack.manifest import REPO_ROOT
from smmu_stack.packaging import zip_bytes

pytestmark = pytest.mark.integration

STATE_TIMEOUT = 2
#: The first invoke (the file does not exist yet) outlives the state's timeout; later ones answer at once. A file,
#: not module state: the retried invoke may get an environment of its own.
SLOW_FIRST = textwrap.dedent(
    """
    import os, time

    def lambda_handler(event, context):
        first = not os.path.exists(event["marker"])
        with open(event["marker"], "a") as marker:
            marker.write("run\\n")
        if first:
            time.sleep(event["sleep"])
        return {"first": first}
    """
)


def _pipeline_state(name: str) -> dict:
    return json.loads((REPO_ROOT / "sfn" / "pipeline.asl.json").read_text())["States"][name]


def test_an_invoke_that_outlives_its_state_timeout_is_run_again_and_the_execution_succeeds(aws, provisioned, tmp_path):
    function = f"slow-first-{uuid.uuid4().hex[:8]}"
    role = aws("iam").get_role(RoleName="smmu-lambda-execution")["Role"]["Arn"]
    aws("lambda").create_function(
        FunctionName=function,
        Runtime="python3.11",
        Role=role,
        Handler="probe.lambda_handler",
        Timeout=10,
        Code={"ZipFile": zip_bytes([], {"probe.py": SLOW_FIRST})},
    )
    retry = _pipeline_state("MarkRunning")["Retry"]
    assert any("States.Timeout" in r["ErrorEquals"] for r in retry)
    definition = {
        "StartAt": "Step",
        "States": {
            "Step": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function, "Payload.$": "$"},
                "TimeoutSeconds": STATE_TIMEOUT,
                "Retry": retry,
                "ResultSelector": {"first.$": "$.Payload.first"},
                "End": True,
            }
        },
    }
    sfn = aws("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"retry-test-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{provisioned.account.account_id}:role/smmu-test",
    )["stateMachineArn"]
    marker = tmp_path / "runs"
    # The first run sleeps past the state's timeout but ends before a retried one (at most 2 s later) would time
    # out too, also where the emulator queues that one behind it in the same environment.
    event = {"marker": str(marker), "sleep": STATE_TIMEOUT + 1}
    execution = sfn.start_execution(stateMachineArn=machine, name="slow-first", input=json.dumps(event))["executionArn"]
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.2)
    history = sfn.get_execution_history(executionArn=execution)["events"]
    types = [e["type"] for e in history]
    assert described["status"] == "SUCCEEDED", types
    assert json.loads(described["output"]) == {"first": False}  # the retried invoke's answer
    assert types.count("TaskTimedOut") == 1 and types.count("TaskScheduled") == 2, types
    assert marker.read_text().count("run") == 2
