"""The provider-schema check (scripts/check_provider_schema.py) finds what `terraform validate` would: an unknown
type, a misspelt argument or nested block (also inside `dynamic` blocks), a missing required argument. The schema
here is a small one in the extracted format; CI checks infra/ against the real one (scripts/check-infra.sh)."""

import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_provider_schema.py"
_spec = importlib.util.spec_from_file_location("check_provider_schema", SCRIPT)
assert _spec and _spec.loader
checker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checker)


def arg(required: bool = False, block: dict | None = None) -> dict:
    return {"required": required, "block": block}


SCHEMA = {
    "resource": {
        "aws_lambda_function": {
            "arguments": {
                "function_name": arg(required=True),
                "role": arg(required=True),
                "memory_size": arg(),
                "tracing_config": arg(block={"arguments": {"mode": arg(required=True)}}),
                "environment": arg(block={"arguments": {"variables": arg()}}),
            }
        }
    },
    "data": {"aws_region": {"arguments": {"region": arg()}}},
    "provider": {"aws": {"arguments": {"region": arg()}}},
}

VALID = """
provider "aws" {
  region = "eu-west-1"
}
data "aws_region" "current" {}
resource "aws_lambda_function" "this" {
  count         = 1
  function_name = "f"
  role          = "arn"
  memory_size   = 256
  tracing_config {
    mode = "Active"
  }
  dynamic "environment" {
    for_each = [1]
    content {
      variables = {}
    }
  }
  lifecycle {
    ignore_changes = [memory_size]
  }
}
"""


def run(tmp_path: Path, hcl: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "main.tf").write_text(hcl)
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA))
    status = checker.check(tmp_path / "schema.json", tmp_path / "infra")
    lines = capsys.readouterr().out.splitlines()
    return status, [line for line in lines if not line.startswith("provider schema check:")]


def test_valid_configuration_has_no_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, VALID, capsys) == (0, [])


@pytest.mark.parametrize(
    ("before", "after", "finding"),
    [
        ("  memory_size   = 256", "  memory_sise   = 256", "'memory_sise' (did you mean memory_size?)"),
        ('    mode = "Active"', '    mode = "Active"\n    moode = 1', "tracing_config: unknown argument 'moode'"),
        ("      variables = {}", "      variable = {}", "environment: unknown argument 'variable'"),
        ('  role          = "arn"', "", "missing required argument 'role'"),
        ('    mode = "Active"', "", "tracing_config: missing required argument 'mode'"),
        ('resource "aws_lambda_function"', 'resource "aws_lambda_fnction"', "unknown resource type"),
        ('  region = "eu-west-1"', '  regoin = "eu-west-1"', "provider aws: unknown argument 'regoin'"),
    ],
)
def test_mutations_are_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], before: str, after: str, finding: str
) -> None:
    assert before in VALID
    status, findings = run(tmp_path, VALID.replace(before, after, 1), capsys)
    assert status == 1
    assert len(findings) == 1 and finding in findings[0], findings
