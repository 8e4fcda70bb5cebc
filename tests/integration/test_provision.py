"""Provisioning is idempotent, and zips the third-party packages with the code where the functions need them."""

import zipfile

import pytest

from smmu_stack.manifest import Manifest
from smmu_stack.packaging import build_code_package
from smmu_stack.provision import provision

pytestmark = pytest.mark.integration


def test_a_second_run_changes_nothing(cloud, provisioned):
    assert provision(cloud.endpoint_url, "us-east-1", Manifest.load()).changes == []


def test_dependencies_travel_inside_every_functions_zip(cloud, provisioned, aws, tmp_path):
    """LocalStack's free edition mounts no layers: the third-party packages are zipped with the code."""
    dependencies = tmp_path / "dependencies"
    (dependencies / "marker_package").mkdir(parents=True)
    (dependencies / "marker_package" / "__init__.py").write_text("VERSION = 1\n")
    (dependencies / "marker_package" / "__pycache__").mkdir()
    (dependencies / "marker_package" / "__pycache__" / "x.pyc").write_bytes(b"stale")
    try:
        first = provision(cloud.endpoint_url, "us-east-1", Manifest.load(), dependencies=dependencies)
        assert {f"code {f['name']}" for f in Manifest.load().functions.values()} <= set(first.changes)
        again = provision(cloud.endpoint_url, "us-east-1", Manifest.load(), dependencies=dependencies)
        assert again.changes == []
        package = build_code_package(dependencies=dependencies)
        with zipfile.ZipFile(package) as archive:
            names = set(archive.namelist())
        assert "marker_package/__init__.py" in names and "lambdas/dispatcher/handler.py" in names
        assert not any("__pycache__" in name for name in names)
        for function in Manifest.load().functions.values():
            configuration = aws("lambda").get_function(FunctionName=function["name"])["Configuration"]
            assert configuration["CodeSize"] == package.stat().st_size
            assert not configuration.get("Layers")
    finally:
        provision(cloud.endpoint_url, "us-east-1", Manifest.load())  # back to the code-only zip
