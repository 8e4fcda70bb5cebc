"""The manifest, the settings defaults, the state machine and the code agree with each other."""

import importlib
import json
import re

import pytest

from smmu.settings import Settings
from smmu_stack.manifest import REPO_ROOT, Account, Manifest

pytestmark = pytest.mark.unit

MANIFEST = Manifest.load()
ASL_PATH = REPO_ROOT / "sfn" / "pipeline.asl.json"
ASL = json.loads(ASL_PATH.read_text())
ACCOUNT = Account("123456789012", "us-east-1")


def test_settings_defaults_are_the_manifest_names():
    env = MANIFEST.environment(ACCOUNT)
    defaults = Settings.model_fields
    for variable, value in env.items():
        if variable.startswith("SMMU_") and variable != "SMMU_STATE_MACHINE_ARN":
            field = variable.removeprefix("SMMU_").lower()
            assert defaults[field].default == value, variable


def test_retention_settings_are_the_buckets_expiry():
    # On AWS the buckets' expiration rules remove old files; locally the reconciler does, from the settings.
    buckets = MANIFEST.data["buckets"]
    assert Settings.model_fields["raw_retention_days"].default == buckets["raw"]["expire_after_days"]
    assert Settings.model_fields["output_retention_days"].default == buckets["processed"]["expire_after_days"]
    assert (buckets["raw"]["expire_prefix"], buckets["processed"]["expire_prefix"]) == ("uploads/", "jobs/")


def test_every_handler_exists():
    for function in MANIFEST.functions.values():
        module, _, name = function["handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), name)), function["handler"]


def test_every_placeholder_is_supplied_and_resolves():
    placeholders = set(re.findall(r"\$\{(\w+)\}", ASL_PATH.read_text()))
    machine = MANIFEST.state_machines["pipeline"]
    supplied = {**machine["function_placeholders"], **machine["queue_placeholders"]}
    assert placeholders == set(supplied)
    queue_urls = {key: f"https://sqs.example/{q['name']}" for key, q in MANIFEST.queues.items()}
    definition = json.loads(MANIFEST.definition("pipeline", ACCOUNT, queue_urls))
    assert "${" not in json.dumps(definition)


def _targets(state):
    targets = [state.get("Next"), state.get("Default")]
    targets += [c["Next"] for c in state.get("Choices", [])]
    targets += [c["Next"] for c in state.get("Catch", [])]
    return {t for t in targets if t}


def test_state_machine_graph_is_closed_and_everything_is_reachable():
    states = ASL["States"]
    seen, todo = set(), [ASL["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        assert name in states, f"{name} is referenced but not defined"
        seen.add(name)
        todo.extend(_targets(states[name]))
    assert seen == set(states), f"unreachable: {set(states) - seen}"


def test_every_task_but_the_failure_writer_has_a_catch_to_mark_failed():
    for name, state in ASL["States"].items():
        if state["Type"] == "Task" and name != "MarkFailed":
            catch = state.get("Catch", [])
            assert catch and catch[0]["ErrorEquals"] == ["States.ALL"], name
            handler = ASL["States"][catch[0]["Next"]]
            assert handler["Next"] == "MarkFailed"
            assert handler["Parameters"]["failed_step"] == name


def test_tasks_retry_transient_lambda_errors_only():
    for name, state in ASL["States"].items():
        if state["Type"] == "Task" and state["Resource"].endswith(":lambda:invoke"):
            retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
            assert "Lambda.TooManyRequestsException" in retried, name
            assert "States.ALL" not in retried and "States.TaskFailed" not in retried, name


def _worker_tasks():
    for name, state in ASL["States"].items():
        if state.get("Resource", "").endswith("sqs:sendMessage.waitForTaskToken"):
            yield name, state
        for branch in state.get("Branches", []):
            for name, inner in branch["States"].items():
                if inner.get("Resource", "").endswith("sqs:sendMessage.waitForTaskToken"):
                    yield name, inner


def test_worker_tasks_heartbeat_time_out_and_retry_only_worker_failures():
    tasks = dict(_worker_tasks())
    assert set(tasks) == {"Transcode", "Transcribe", "ConvertAnimation"}
    for name, task in tasks.items():
        assert task["HeartbeatSecondsPath"] == "$.worker_heartbeat_seconds", name
        assert task["TimeoutSeconds"] > 0, name
        retried = {e for r in task["Retry"] for e in r["ErrorEquals"]}
        # moto reports a missed heartbeat as States.Timeout, AWS as States.HeartbeatTimeout.
        assert {"States.HeartbeatTimeout", "States.Timeout", "WorkerError"} <= retried, name
        assert not retried & {"States.ALL", "CorruptMediaError", "BadInputError"}, name
        assert task["Parameters"]["MessageBody"]["task_token.$"] == "$$.Task.Token"


def test_every_worker_has_its_queue_and_placeholder():
    placeholders = set(MANIFEST.state_machines["pipeline"]["queue_placeholders"].values())
    for worker in MANIFEST.data["workers"].values():
        assert worker["queue"] in MANIFEST.queues
        assert worker["queue"] in placeholders
        assert MANIFEST.queues[worker["queue"]]["dead_letter_queue"] in MANIFEST.queues


def test_environment_values_with_a_colon_are_literal_unless_they_name_a_resource():
    manifest = Manifest.load()
    account = Account("000000000000", "us-east-1")
    assert manifest.resolve("table:jobs", account) == manifest.tables["jobs"]["name"]
    # A URL and a JSON list (SMMU_CORS_ORIGINS) pass through as they are.
    assert manifest.resolve("http://127.0.0.1:8000", account) == "http://127.0.0.1:8000"
    origins = '["http://127.0.0.1:8000"]'
    assert manifest.resolve(origins, account) == origins
    with pytest.raises(ValueError, match="unknown reference kind"):
        manifest.resolve("tabel:jobs", account)


def test_every_package_the_functions_import_is_in_their_package():
    # The functions' zip carries only lambda_package.dependencies (Lambda provides boto3): a library imported by
    # the functions' code but missing there works in the venv and on moto, then fails on LocalStack and AWS with
    # "No module named ...". Read from the code's imports, mapped to the distributions that provide them.
    import ast
    import sys
    from importlib.metadata import packages_distributions

    from smmu_stack.packaging import _name

    provided = packages_distributions()
    own = set(MANIFEST.lambda_package["source_packages"])
    runtime = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"}
    declared = {_name(requirement) for requirement in MANIFEST.lambda_package["dependencies"]}
    missing: dict[str, set[str]] = {}
    for package in own:
        for path in (REPO_ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            # An import guarded by `except ImportError` is optional by design (pyvips: Pillow stands in).
            optional = {
                id(inner)
                for node in ast.walk(tree)
                if isinstance(node, ast.Try)
                and any("ImportError" in ast.unparse(handler.type or ast.Name("")) for handler in node.handlers)
                for statement in node.body
                for inner in ast.walk(statement)
            }
            for node in ast.walk(tree):
                if id(node) in optional:
                    continue
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top in own or top in sys.stdlib_module_names or top == "__future__":
                        continue
                    if top.startswith("mypy_"):
                        continue  # type stubs, imported under TYPE_CHECKING only
                    distributions = {_name(d) for d in provided.get(top, [top])}
                    if not distributions & (declared | runtime):
                        missing.setdefault(top, set()).add(str(path.relative_to(REPO_ROOT)))
    assert not missing, f"imported by the functions' code but not in lambda_package.dependencies: {missing}"
