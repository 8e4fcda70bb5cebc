"""`smmu keys create|list|revoke` against the emulated keys table."""

import pytest
from typer.testing import CliRunner

from smmu.tenants import ApiKeyStore, parse_token
from smmu_stack.cli import app

pytestmark = pytest.mark.integration


def test_create_list_revoke(cloud, provisioned, aws):
    table = provisioned.environment["SMMU_API_KEYS_TABLE"]
    common = ["--endpoint-url", cloud.endpoint_url, "--table", table]
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "--tenant", "cli-tenant", "--name", "laptop", *common])
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    key_id, _ = parse_token(token)
    store = ApiKeyStore(table, aws("dynamodb"))
    assert store.authenticate(token).tenant_id == "cli-tenant"

    listed = runner.invoke(app, ["keys", "list", "--tenant", "cli-tenant", *common])
    assert key_id in listed.output and "laptop" in listed.output and token not in listed.output

    assert runner.invoke(app, ["keys", "revoke", key_id, *common]).exit_code == 0
    assert store.authenticate(token) is None
    assert runner.invoke(app, ["keys", "revoke", "nosuchkey000", *common]).exit_code == 1
    refused = runner.invoke(app, ["keys", "create", "--tenant", "Not A Tenant", *common])
    assert refused.exit_code != 0 and "tenant id" in refused.output
