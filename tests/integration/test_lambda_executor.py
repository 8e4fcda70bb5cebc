"""The embedded Lambda executor runs deployed zips out of process, warm, with Lambda's failure semantics."""

import json
import textwrap
import uuid

import pytest

from smmu_stack.packaging import zip_bytes

pytestmark = pytest.mark.integration

PROBE = textwrap.dedent(
    """
    import os, time
    CALLS = 0  # module state survives between invocations in a warm environment

    def lambda_handler(event, context):
        global CALLS
        CALLS += 1
        if event.get("raise"):
            raise ValueError("asked to fail: " + event["raise"])
        if event.get("sleep"):
            time.sleep(event["sleep"])
        print("log line from the function")
        return {"pid": os.getpid(), "calls": CALLS, "greeting": os.environ.get("GREETING"),
                "remaining_ms": context.get_remaining_time_in_millis(), "version": VERSION}
    """
)


def _deploy(aws, code: str, version: str = "1", handler: str = "probe.lambda_handler", timeout: int = 3):
    name = f"probe-{uuid.uuid4().hex[:8]}"
    role = aws("iam").get_role(RoleName="smmu-lambda-execution")["Role"]["Arn"]
    aws("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler=handler,
        Timeout=timeout,
        Code={"ZipFile": zip_bytes([], {"probe.py": code + f"\nVERSION = {version!r}\n"})},
        Environment={"Variables": {"GREETING": "hello"}},
    )
    return name


def _invoke(aws, name, event):
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return json.loads(response["Payload"].read()), response.get("FunctionError")


def test_warm_environment_is_reused(aws, provisioned):
    name = _deploy(aws, PROBE)
    first, error = _invoke(aws, name, {})
    assert error is None
    assert first["greeting"] == "hello"
    assert 0 < first["remaining_ms"] <= 3000
    second, _ = _invoke(aws, name, {})
    assert second["pid"] == first["pid"]  # the same process: one cold start
    assert second["calls"] == 2


def test_exception_is_reported_like_lambda(aws, provisioned):
    name = _deploy(aws, PROBE)
    payload, error = _invoke(aws, name, {"raise": "boom"})
    assert error
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "asked to fail: boom"
    after, error = _invoke(aws, name, {})
    assert error is None  # the environment survives a handled exception
    assert after["calls"] == 2


def test_timeout_kills_the_environment_and_the_next_call_starts_cold(aws, provisioned):
    name = _deploy(aws, PROBE, timeout=1)
    before, _ = _invoke(aws, name, {})
    payload, error = _invoke(aws, name, {"sleep": 3})
    assert error
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    after, error = _invoke(aws, name, {})
    assert error is None
    assert after["pid"] != before["pid"] and after["calls"] == 1


def test_new_code_replaces_warm_environments(aws, provisioned):
    name = _deploy(aws, PROBE, version="1")
    assert _invoke(aws, name, {})[0]["version"] == "1"
    aws("lambda").update_function_code(
        FunctionName=name, ZipFile=zip_bytes([], {"probe.py": PROBE + "\nVERSION = '2'\n"})
    )
    assert _invoke(aws, name, {})[0]["version"] == "2"


def test_a_handler_that_cannot_be_imported(aws, provisioned):
    name = _deploy(aws, PROBE, handler="missing.lambda_handler")
    payload, error = _invoke(aws, name, {})
    assert error
    assert payload["errorType"] == "Runtime.ImportModuleError"
