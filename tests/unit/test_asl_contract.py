"""The state machine and the code it calls agree on every message, field by field.

The models of ``smmu.contracts`` ignore fields they do not know (so stages can be deployed one at a time), so a
field the ASL misspells would be dropped silently at run time. This test reads ``sfn/*.asl.json`` and proves
statically, for every Task state, that:

- every field its ``Parameters`` pass (Lambda ``Payload``, worker ``MessageBody``) is a field of the model the
  receiving handler parses, every required field of that model is passed, and the value's source has the type
  the field declares;
- every path it reads (``$.x.y``) is something the execution input or an earlier state's result put there;
- every field its ``ResultSelector`` picks is a field of the model the task returns.

The receiving model is read from the handler's own annotations (``lambdas.shared.step.typed_handler``), found
through the manifest: placeholder -> function -> handler; a queue placeholder -> a worker, whose runtime parses
``WorkerTask`` and answers ``WorkerResult``. That every ``${Placeholder}`` is filled is proved for the provisioner
in test_manifest_contract.py and for Terraform in tests/infra/test_terraform_contract.py.
"""

import importlib
import inspect
import json
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from smmu.contracts import ExecutionInput, WorkerResult, WorkerTask
from smmu_stack.manifest import REPO_ROOT, Manifest

pytestmark = pytest.mark.unit

MANIFEST = Manifest.load()
ASL_FILES = sorted((REPO_ROOT / "sfn").glob("*.asl.json"))
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
WAIT_FOR_TOKEN = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"


def _machine_for(path: Path) -> dict[str, Any]:
    for machine in MANIFEST.state_machines.values():
        if (MANIFEST.root / machine["definition"]).resolve() == path.resolve():
            return machine
    raise AssertionError(f"{path.name} is not a state machine of the manifest")


def _unwrap_optional(annotation: Any) -> Any:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    return annotation


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The models a parameter annotation accepts: one model, or each member of a (discriminated) union."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _models(a)]
    assert inspect.isclass(annotation) and issubclass(annotation, BaseModel), annotation
    return [annotation]


def _literal(model: type[BaseModel], field: str) -> Any:
    args = typing.get_args(model.model_fields[field].annotation)
    return args[0] if len(args) == 1 else None


class Receiver:
    """What a Task state talks to: the models of its input and output."""

    def __init__(self, name: str, inputs: list[type[BaseModel]], output: type[BaseModel]) -> None:
        self.name, self.inputs, self.output = name, inputs, output

    def input_for(self, payload: dict[str, Any]) -> type[BaseModel]:
        """The model that parses ``payload``: for a union, the member whose literal fields the payload matches."""
        if len(self.inputs) == 1:
            return self.inputs[0]
        matching = [
            m
            for m in self.inputs
            if all(
                _literal(m, k) is None or _literal(m, k) == v
                for k, v in payload.items()
                if not k.endswith(".$") and k in m.model_fields
            )
        ]
        assert len(matching) == 1, f"{self.name}: payload {payload} matches {matching} of {self.inputs}"
        return matching[0]


def _receiver(machine: dict[str, Any], state: dict[str, Any]) -> tuple[Receiver, dict[str, Any]]:
    params = state["Parameters"]
    placeholder = lambda text: text.removeprefix("${").removesuffix("}")  # noqa: E731
    if state["Resource"] == LAMBDA_INVOKE:
        function = machine["function_placeholders"][placeholder(params["FunctionName"])]
        module, _, attr = MANIFEST.functions[function]["handler"].rpartition(".")
        handler = inspect.unwrap(getattr(importlib.import_module(module), attr))
        hints = typing.get_type_hints(handler, include_extras=True)
        assert "event" in hints and "return" in hints, f"{function}'s handler does not declare its contract"
        output = hints["return"]
        assert issubclass(output, BaseModel), f"{function} returns {output}, not a model"
        return Receiver(function, _models(hints["event"]), output), params["Payload"]
    if state["Resource"] == WAIT_FOR_TOKEN:
        queue = machine["queue_placeholders"][placeholder(params["QueueUrl"])]
        workers = [name for name, w in MANIFEST.data["workers"].items() if w["queue"] == queue]
        assert workers, f"no worker reads the queue {queue}"
        return Receiver(workers[0], [WorkerTask], WorkerResult), params["MessageBody"]
    raise AssertionError(f"no contract known for the resource {state['Resource']}")


# -- what the state data holds, state by state --------------------------------------------------------------


def _tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _tasks(branch["States"])


def _field_type(model: type[BaseModel], field: str) -> Any:
    return _unwrap_optional(model.model_fields[field].annotation)


class StateData:
    """Where each top-level key of the state data comes from, so a path's type can be looked up.

    A key is the execution input's field, a Task's ResultPath (its ResultSelector's fields, typed by the task's
    output model), a Parallel's ResultPath (a list of its branches' results), or a Catch's ResultPath (the
    Step Functions error).
    """

    def __init__(self, machine: dict[str, Any], asl: dict[str, Any]) -> None:
        self.roots: dict[str, Any] = {f: _field_type(ExecutionInput, f) for f in ExecutionInput.model_fields}
        self.selected: dict[str, dict[str, Any]] = {}
        for _, state in _tasks(asl["States"]):
            target = (state.get("ResultPath") or "").removeprefix("$.")
            for catch in state.get("Catch", []):
                self.roots[catch["ResultPath"].removeprefix("$.")] = "error"
            if not target:
                continue
            if state["Type"] == "Task":
                receiver, _ = _receiver(machine, state)
                self.selected[target] = {
                    key.removesuffix(".$"): _field_type(receiver.output, _selected_field(value))
                    for key, value in state.get("ResultSelector", {}).items()
                }
                self.roots[target] = "result"
            elif state["Type"] == "Parallel":
                group: dict[str, Any] = {}
                for branch in state["Branches"]:
                    last = next(s for s in branch["States"].values() if s.get("End"))
                    receiver, _ = _receiver(machine, last)
                    for key, value in last.get("ResultSelector", {}).items():
                        group[key.removesuffix(".$")] = _field_type(receiver.output, _selected_field(value))
                self.selected[target] = group
                self.roots[target] = "branches"
        # A Pass state's Parameters become the state data: copies of what was there, or constants.
        for _, state in _tasks(asl["States"]):
            if state["Type"] != "Pass":
                continue
            for key, value in state.get("Parameters", {}).items():
                if key.endswith(".$"):
                    self.roots.setdefault(key.removesuffix(".$"), self.type_of(value))
                elif isinstance(value, dict):
                    assert set(value) == {"Error", "Cause"}, f"{key}: only errors are passed as constant objects"
                    self.roots.setdefault(key, "error")
                else:
                    self.roots.setdefault(key, type(value))

    def type_of(self, path: str) -> Any:
        """The type at ``$.root[.field]``; AssertionError if nothing puts it there."""
        parts = path.removeprefix("$.").split(".")
        root = parts[0]
        assert root in self.roots, f"{path}: no state puts {root!r} in the state data"
        if len(parts) == 1:
            kind = self.roots[root]
            return ("branches", self.selected[root]) if kind == "branches" else kind
        assert len(parts) == 2, f"{path}: deeper paths are not checked; extend the test"
        kind = self.roots[root]
        if inspect.isclass(kind) and issubclass(kind, BaseModel):  # a model of the execution input (its options)
            assert parts[1] in kind.model_fields, f"{path}: {kind.__name__} has no field {parts[1]!r}"
            return _field_type(kind, parts[1])
        assert root in self.selected, f"{path}: {root!r} is not a selected task result"
        assert parts[1] in self.selected[root], f"{path}: {root!r} holds only {sorted(self.selected[root])}"
        return self.selected[root][parts[1]]


def _selected_field(value: str) -> str:
    """The output field a ResultSelector value picks: ``$.Payload.x`` (Lambda) or ``$.x`` (worker answer)."""
    field = value.removeprefix("$.").removeprefix("Payload.")
    assert "." not in field, f"{value}: only top-level output fields are selected"
    return field


def _assert_compatible(where: str, field: str, target: Any, source: Any) -> None:
    """A value of type ``source`` (from the state data) suits a field of type ``target``."""
    target = _unwrap_optional(target)
    if source == "error":
        assert inspect.isclass(target) and issubclass(target, BaseModel), f"{where}.{field}: an error is an object"
        assert set(target.model_fields) >= {"Error", "Cause"}, f"{where}.{field}: {target} is not an error"
        return
    if isinstance(source, tuple) and source[0] == "branches":
        (item,) = typing.get_args(target)
        unknown = set(source[1]) - set(item.model_fields)
        assert not unknown, f"{where}.{field}: branch results carry {sorted(unknown)}, unknown to {item.__name__}"
        for key, typ in source[1].items():
            _assert_compatible(where, f"{field}[].{key}", item.model_fields[key].annotation, typ)
        return
    assert target == source or target is Any, f"{where}.{field}: the field is {target}, the value passed is {source}"


# -- the tests ----------------------------------------------------------------------------------------------


def _task_states(asl: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, s) for name, s in _tasks(asl["States"]) if s["Type"] == "Task"]


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_every_field_passed_to_a_task_is_one_its_model_declares(path: Path) -> None:
    asl, machine = json.loads(path.read_text()), _machine_for(path)
    data = StateData(machine, asl)
    for name, state in _task_states(asl):
        receiver, payload = _receiver(machine, state)
        model = receiver.input_for(payload)
        passed = {key.removesuffix(".$"): value for key, value in payload.items()}
        unknown = set(passed) - set(model.model_fields)
        assert not unknown, f"{name} passes {sorted(unknown)}, which {model.__name__} ({receiver.name}) lacks"
        missing = {f for f, info in model.model_fields.items() if info.is_required()} - set(passed)
        assert not missing, f"{name} does not pass {sorted(missing)}, which {model.__name__} requires"
        for key, value in payload.items():
            if key.endswith(".$") and not value.startswith("$$."):
                field = key.removesuffix(".$")
                _assert_compatible(name, field, model.model_fields[field].annotation, data.type_of(value))


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_every_field_a_result_selector_picks_is_one_the_task_returns(path: Path) -> None:
    asl, machine = json.loads(path.read_text()), _machine_for(path)
    for name, state in _task_states(asl):
        receiver, _ = _receiver(machine, state)
        for value in state.get("ResultSelector", {}).values():
            field = _selected_field(value)
            assert field in receiver.output.model_fields, (
                f"{name} selects {value}, which {receiver.output.__name__} ({receiver.name}) does not return"
            )


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_every_path_a_state_reads_is_put_there_by_an_earlier_state(path: Path) -> None:
    asl, machine = json.loads(path.read_text()), _machine_for(path)
    data = StateData(machine, asl)
    for name, state in _tasks(asl["States"]):
        reads = [state.get("HeartbeatSecondsPath")]
        reads += [c.get("Variable") for c in state.get("Choices", [])]
        reads += [inner.get("Variable") for c in state.get("Choices", []) for inner in c.get("Or", [])]
        if state["Type"] == "Pass":
            reads += [v for k, v in state.get("Parameters", {}).items() if k.endswith(".$")]
        for read in filter(None, reads):
            data.type_of(read)  # raises with the reason if nothing puts it there
        if state.get("HeartbeatSecondsPath"):
            assert data.type_of(state["HeartbeatSecondsPath"]) is int, name


def test_the_contract_finds_every_task():
    """Guards the guard: the checks above really see the pipeline's tasks and their models."""
    path = REPO_ROOT / "sfn" / "pipeline.asl.json"
    asl, machine = json.loads(path.read_text()), _machine_for(path)
    received = {name: _receiver(machine, s)[0] for name, s in _task_states(asl)}
    assert {"MarkRunning", "ValidateInput", "DetectType", "ProcessImage", "Transcode", "MarkFailed"} <= set(received)
    assert received["ValidateInput"].output.__name__ == "ValidateInputResult"
    assert received["Transcode"].output is WorkerResult
    payload = asl["States"]["MarkFailed"]["Parameters"]["Payload"]
    assert received["MarkFailed"].input_for(payload).__name__ == "MarkFailed"
