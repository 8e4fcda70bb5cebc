"""The state machine retries what another attempt can fix, boundedly, and never what it cannot."""

import json

import pytest

from smmu.errors import code_for
from smmu_stack.manifest import REPO_ROOT, Manifest

pytestmark = pytest.mark.unit

ASL = json.loads((REPO_ROOT / "sfn" / "pipeline.asl.json").read_text())
MANIFEST = Manifest.load()
#: A crashed or timed-out function environment (AWS: Lambda.Unknown, Sandbox.Timedout; a runtime that exits).
ENVIRONMENT_FAULTS = {"Lambda.Unknown", "Sandbox.Timedout", "Runtime.ExitError"}
NEVER = {"States.ALL", "BadInputError", "CorruptMediaError", "ProcessingError", "States.TaskFailed"}


def _tasks(states=ASL["States"]):
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from _tasks(branch["States"])


def test_every_function_step_retries_a_crashed_environment_with_bounded_backoff():
    functions = _function_steps()
    assert len(functions) == 9
    for name, state in functions.items():
        [retrier] = [r for r in state["Retry"] if set(r["ErrorEquals"]) >= ENVIRONMENT_FAULTS]
        assert 1 <= retrier["MaxAttempts"] <= 3, name
        assert retrier["BackoffRate"] > 1 and retrier["MaxDelaySeconds"] <= 10, name
        # Worst case the step waits at most this long in retries: bounded.
        waits = [min(retrier["IntervalSeconds"] * retrier["BackoffRate"] ** i, retrier["MaxDelaySeconds"])
                 for i in range(retrier["MaxAttempts"])]  # fmt: skip
        assert sum(waits) <= 15, name


def _function_steps() -> dict[str, dict]:
    return {name: state for name, state in _tasks() if state["Resource"].endswith("lambda:invoke")}


def _retrier(state: dict, error: str) -> dict:
    """The retrier Step Functions would pick for ``error``: the first that names it."""
    return next(r for r in state["Retry"] if error in r["ErrorEquals"])


def _worst_wait(retrier: dict) -> float:
    cap, rate = retrier.get("MaxDelaySeconds", float("inf")), retrier.get("BackoffRate", 2.0)
    return sum(min(retrier["IntervalSeconds"] * rate**i, cap) for i in range(retrier["MaxAttempts"]))


#: Every function step may run twice for one attempt: an invoke that outlived its state's timeout is retried,
#: and the first invoke may still run (neither AWS nor the emulators take it back). Each of these was checked to
#: be idempotent: the status writes are conditional and publish under one event id; ValidateInput reads;
#: DetectType writes the same fields; ProcessImage and PackageHls write keys named by the job, and a late run
#: after a cancel or delete removes what it wrote (tests/integration/test_process_image.py,
#: tests/integration/test_package_hls.py).
IDEMPOTENT_FUNCTION_STEPS = {
    "MarkRunning",
    "ValidateInput",
    "DetectType",
    "ProcessImage",
    "MarkAnimationCompleted",
    "MarkCompleted",
    "PackageHls",
    "MarkMediaCompleted",
    "MarkFailed",
}


def test_every_function_step_is_idempotent_and_retries_an_invoke_that_outlived_its_state_timeout():
    # Under a burst LocalStack queues an invoke until it has started a container for it, which can take longer
    # than the state's timeout; on AWS a cold start under load is slow too. The step is run again, not failed.
    steps = _function_steps()
    assert set(steps) == IDEMPOTENT_FUNCTION_STEPS
    for name, state in steps.items():
        retrier = _retrier(state, "States.Timeout")
        assert retrier["ErrorEquals"] == ["States.Timeout"], name
        assert 1 <= retrier["MaxAttempts"] <= 3 and retrier.get("JitterStrategy") == "FULL", name
        assert _worst_wait(retrier) <= 15, name


def test_a_throttled_function_step_backs_off_with_jitter_long_enough_for_a_burst_to_drain():
    # AWS answers an invoke beyond the account's (or function's) concurrency at once with TooManyRequests: a burst
    # of executions retrying in lockstep after 1, 2 and 4 s would be throttled again.
    for name, state in _function_steps().items():
        retrier = _retrier(state, "Lambda.TooManyRequestsException")
        assert retrier["ErrorEquals"] == ["Lambda.TooManyRequestsException"], name
        assert retrier.get("JitterStrategy") == "FULL", name
        assert 30 <= _worst_wait(retrier) <= 120, name


#: What a function step's state timeout leaves beyond the function's own timeout: an invoke waiting for an
#: environment (a cold start on a loaded machine, LocalStack's container start) must not time the step out first.
COLD_START_ROOM_SECONDS = 120


def test_every_function_step_leaves_room_for_a_cold_start_under_load_beyond_the_function_timeout():
    placeholders = MANIFEST.state_machines["pipeline"]["function_placeholders"]
    for name, state in _function_steps().items():
        function = placeholders[state["Parameters"]["FunctionName"].strip("${}")]
        function_timeout = MANIFEST.functions[function]["timeout_seconds"]
        assert state["TimeoutSeconds"] >= function_timeout + COLD_START_ROOM_SECONDS, name


def test_no_step_retries_a_deterministic_failure():
    for name, state in _tasks():
        retried = {error for retrier in state.get("Retry", []) for error in retrier["ErrorEquals"]}
        assert not retried & NEVER, name


def test_codes_for_what_is_left_after_retries():
    assert code_for("CorruptMediaError") == "CORRUPT_MEDIA"
    assert code_for("Sandbox.Timedout") == "STEP_TIMEOUT"
    assert code_for("States.HeartbeatTimeout") == "STEP_TIMEOUT"
    assert code_for("Runtime.ExitError") == "INTERNAL_ERROR"
    assert code_for("ProcessingError") == "PROCESSING_FAILED"
    assert code_for("WorkerError") == "WORKER_ERROR"
