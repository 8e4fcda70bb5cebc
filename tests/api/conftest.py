"""The API in-process (FastAPI's TestClient) against the integration tests' embedded cloud."""

import pytest
from fastapi.testclient import TestClient

from api.core.config import get_api_settings


@pytest.fixture
def api(provisioned, aws, monkeypatch):
    for name, value in provisioned.environment.items():
        monkeypatch.setenv(name, value)
    get_api_settings.cache_clear()
    from api.main import create_app
    from smmu.tenants import ApiKeyStore

    token, _ = ApiKeyStore(provisioned.environment["SMMU_API_KEYS_TABLE"], aws("dynamodb")).create(
        "api-tests", name="api tests"
    )
    with TestClient(create_app(), headers={"Authorization": f"Bearer {token}"}) as client:
        yield client
    get_api_settings.cache_clear()
