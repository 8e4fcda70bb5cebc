import pytest

from api.core.config import get_api_settings

pytestmark = pytest.mark.integration


def test_healthy(api):
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"jobs_table": "ok", "raw_bucket": "ok"}}


def test_unhealthy_names_what_is_missing(api, monkeypatch):
    monkeypatch.setenv("SMMU_JOBS_TABLE", "no-such-table")
    get_api_settings.cache_clear()
    response = api.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["jobs_table"].startswith("unavailable")
    assert response.json()["checks"]["raw_bucket"] == "ok"
