"""Provisioning is idempotent, and attaches the dependency layer where the functions need one."""

import pytest

from smmu_stack.manifest import Manifest
from smmu_stack.packaging import zip_bytes
from smmu_stack.provision import provision

pytestmark = pytest.mark.integration


def test_a_second_run_changes_nothing(cloud, provisioned):
    assert provision(cloud.endpoint_url, "us-east-1", Manifest.load()).changes == []


def test_dependency_layer_is_published_once_and_attached(cloud, provisioned, aws, tmp_path):
    layer = tmp_path / "layer.zip"
    layer.write_bytes(zip_bytes([], {"python/marker_package/__init__.py": "VERSION = 1\n"}))
    first = provision(cloud.endpoint_url, "us-east-1", Manifest.load(), dependency_layer=layer)
    assert "layer smmu-dependencies" in first.changes
    again = provision(cloud.endpoint_url, "us-east-1", Manifest.load(), dependency_layer=layer)
    assert again.changes == []
    versions = aws("lambda").list_layer_versions(LayerName="smmu-dependencies")["LayerVersions"]
    assert len(versions) == 1
    for function in Manifest.load().functions.values():
        configuration = aws("lambda").get_function(FunctionName=function["name"])["Configuration"]
        assert [entry["Arn"] for entry in configuration["Layers"]] == [versions[0]["LayerVersionArn"]]
