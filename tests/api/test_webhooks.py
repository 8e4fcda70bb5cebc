"""The webhooks API in-process against the emulated tables: registration, validation, tenant scoping."""

import pytest
from fastapi.testclient import TestClient

from api.core.config import get_api_settings
from smmu.tenants import ApiKeyStore
from smmu.webhooks import new_secret

pytestmark = pytest.mark.integration

PUBLIC = "https://93.184.215.14/hooks/smmu"  # an address literal: no DNS needed, and public


@pytest.fixture
def other_tenant(api, provisioned, aws):
    token, _ = ApiKeyStore(provisioned.environment["SMMU_API_KEYS_TABLE"], aws("dynamodb")).create("other-tenant")
    return {"Authorization": f"Bearer {token}"}


def test_register_list_update_and_delete(api):
    created = api.post("/v1/webhooks", json={"url": PUBLIC, "events": ["job.completed"], "description": "ci"})
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["secret"].startswith("whsec_") and hook["enabled"] and hook["events"] == ["job.completed"]
    webhook_id = hook["webhook_id"]

    shown = api.get(f"/v1/webhooks/{webhook_id}").json()
    assert "secret" not in shown and shown["url"] == PUBLIC
    assert webhook_id in [w["webhook_id"] for w in api.get("/v1/webhooks").json()["items"]]

    updated = api.patch(f"/v1/webhooks/{webhook_id}", json={"events": ["job.failed", "job.failed"], "enabled": False})
    assert updated.status_code == 200, updated.text
    assert updated.json()["events"] == ["job.failed"] and updated.json()["enabled"] is False

    assert api.get(f"/v1/webhooks/{webhook_id}/deliveries").json() == {"items": [], "next_cursor": None}
    assert api.delete(f"/v1/webhooks/{webhook_id}").status_code == 204
    assert api.get(f"/v1/webhooks/{webhook_id}").status_code == 404
    assert api.delete(f"/v1/webhooks/{webhook_id}").status_code == 404


def test_a_supplied_secret_is_kept_and_a_malformed_one_refused(api):
    secret = new_secret()
    created = api.post("/v1/webhooks", json={"url": PUBLIC, "secret": secret})
    assert created.status_code == 201 and created.json()["secret"] == secret
    assert set(created.json()["events"]) == {"job.completed", "job.failed", "job.cancelled"}
    refused = api.post("/v1/webhooks", json={"url": PUBLIC, "secret": "password1"})
    assert refused.status_code == 422 and "whsec_" in refused.text
    api.delete(f"/v1/webhooks/{created.json()['webhook_id']}")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/x", "loopback"),
        ("http://localhost/x", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://10.20.30.40/", "private"),
        ("http://[fe80::1]/", "link-local"),
        ("http://no-such-host.invalid/", "does not resolve"),
        ("file:///etc/passwd", "https://"),
    ],
)
def test_unsafe_urls_are_refused_with_the_reason(api, url, reason):
    response = api.post("/v1/webhooks", json={"url": url})
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"]


def test_unknown_event_types_and_fields_are_refused(api):
    refused = api.post("/v1/webhooks", json={"url": PUBLIC, "events": ["job.completed", "job.exploded"]})
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["body", "events"] and "'job.exploded'" in error["msg"], error
    webhook_id = api.post("/v1/webhooks", json={"url": PUBLIC}).json()["webhook_id"]
    patched = api.patch(f"/v1/webhooks/{webhook_id}", json={"events": ["job.progres"]})
    assert patched.status_code == 422 and "'job.progres'" in patched.json()["detail"][0]["msg"]
    assert api.delete(f"/v1/webhooks/{webhook_id}").status_code == 204
    assert api.post("/v1/webhooks", json={"url": PUBLIC, "events": []}).status_code == 422
    assert api.post("/v1/webhooks", json={"url": PUBLIC, "verify_tls": False}).status_code == 422


def test_progress_is_offered_but_only_on_request(api):
    plain = api.post("/v1/webhooks", json={"url": PUBLIC})
    assert plain.json()["events"] == ["job.completed", "job.failed", "job.cancelled"]
    progress = api.post("/v1/webhooks", json={"url": PUBLIC, "events": ["job.progress", "job.failed"]})
    assert progress.status_code == 201 and progress.json()["events"] == ["job.progress", "job.failed"]
    webhook_id = plain.json()["webhook_id"]
    patched = api.patch(f"/v1/webhooks/{webhook_id}", json={"events": ["job.progress", "job.progress"]})
    assert patched.status_code == 200 and patched.json()["events"] == ["job.progress"]
    for created in (webhook_id, progress.json()["webhook_id"]):
        assert api.delete(f"/v1/webhooks/{created}").status_code == 204


def test_another_tenants_webhook_is_not_found(api, other_tenant):
    webhook_id = api.post("/v1/webhooks", json={"url": PUBLIC}).json()["webhook_id"]
    assert api.get(f"/v1/webhooks/{webhook_id}", headers=other_tenant).status_code == 404
    assert api.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=other_tenant).status_code == 404
    assert api.patch(f"/v1/webhooks/{webhook_id}", json={"enabled": False}, headers=other_tenant).status_code == 404
    assert api.delete(f"/v1/webhooks/{webhook_id}", headers=other_tenant).status_code == 404
    assert webhook_id not in str(api.get("/v1/webhooks", headers=other_tenant).json())
    assert api.get(f"/v1/webhooks/{webhook_id}").status_code == 200  # untouched
    api.delete(f"/v1/webhooks/{webhook_id}")


def test_the_number_of_endpoints_per_tenant_is_bounded(api, monkeypatch):
    monkeypatch.setenv("SMMU_MAX_WEBHOOKS_PER_TENANT", "2")
    get_api_settings.cache_clear()
    from api.main import create_app

    limited = TestClient(create_app(), headers=dict(api.headers))
    ids = [limited.post("/v1/webhooks", json={"url": PUBLIC}).json()["webhook_id"] for _ in range(2)]
    third = limited.post("/v1/webhooks", json={"url": PUBLIC})
    assert third.status_code == 409 and "at most 2" in third.text
    for webhook_id in ids:
        limited.delete(f"/v1/webhooks/{webhook_id}")
    get_api_settings.cache_clear()


def test_a_delivery_cursor_from_elsewhere_is_refused(api):
    webhook_id = api.post("/v1/webhooks", json={"url": PUBLIC}).json()["webhook_id"]
    response = api.get(f"/v1/webhooks/{webhook_id}/deliveries", params={"cursor": "bm90LWEtY3Vyc29y"})
    assert response.status_code == 400 and "cursor" in response.text
    api.delete(f"/v1/webhooks/{webhook_id}")
