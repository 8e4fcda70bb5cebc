"""Per-upload options, cancel, retry and delete through the API (in-process) on the embedded cloud: the answers a
client gets, including every refusal."""

import uuid

import pytest
from fastapi.testclient import TestClient

from smmu.jobs import now_iso
from smmu.webhook_store import DeliveryRepository
from smmu.webhooks import Delivery, DeliveryAttempt, delivery_id, event_id, progress_event_id

pytestmark = pytest.mark.integration

IMAGE = {"filename": "a.jpg", "content_type": "image/jpeg", "size_bytes": 1000}


def create(api: TestClient, **extra) -> dict:
    response = api.post("/v1/uploads", json={**IMAGE, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def test_options_are_stored_and_shown_on_the_job(api):
    options = {
        "thumbnail_widths": [120, 480],
        "thumbnail_formats": ["webp"],
        "ladder": [720, 360],
        "hls": False,
        "transcribe": False,
        "language": "DE",
    }
    job = api.get(f"/v1/jobs/{create(api, options=options)['job_id']}").json()
    assert job["options"] == {**options, "language": "de"}
    assert job["attempt"] == 1
    # Without options the job shows the defaults.
    plain = api.get(f"/v1/jobs/{create(api)['job_id']}").json()
    assert plain["options"] == {
        "thumbnail_widths": None,
        "thumbnail_formats": None,
        "ladder": None,
        "hls": True,
        "transcribe": True,
        "language": "auto",
    }


def test_a_multipart_upload_takes_options_too(api):
    body = create(api, multipart=True, options={"transcribe": False})
    assert api.get(f"/v1/jobs/{body['job_id']}").json()["options"]["transcribe"] is False


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"thumbnail_widths": [100, 5000]}, "thumbnail_widths"),
        ({"thumbnail_widths": [1, 2, 3, 4, 5, 6, 7]}, "thumbnail_widths"),
        ({"thumbnail_widths": [100, 100]}, "thumbnail_widths"),
        ({"thumbnail_widths": []}, "thumbnail_widths"),
        ({"thumbnail_formats": ["bmp"]}, "thumbnail_formats"),
        ({"ladder": [1000]}, "ladder"),
        ({"hls": "no"}, "hls"),
        ({"transcribe": 0}, "transcribe"),
        ({"language": "klingon"}, "language"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_an_option_outside_the_limits_is_refused_naming_it(api, options, named):
    before = api.get("/v1/jobs").json()["items"]
    response = api.post("/v1/uploads", json={**IMAGE, "options": options})
    assert response.status_code == 422, response.text
    assert any(named in error["loc"] for error in response.json()["detail"]), response.json()
    assert api.get("/v1/jobs").json()["items"] == before  # nothing stored


def test_limits_name_the_option_bounds(api):
    limits = api.get("/v1/limits").json()["options"]
    assert limits["thumbnail_formats"] == ["jpeg", "webp", "avif"]
    assert 720 in limits["ladder_rungs"] and limits["thumbnail_width_max"] >= 640


def test_cancel_a_pending_job_then_it_has_ended(api):
    job_id = create(api)["job_id"]
    response = api.post(f"/v1/jobs/{job_id}/cancel")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "job_id": job_id,
        "status": "CANCELLED",
        "execution_stopped": False,
        "outputs_removed": 0,
    }
    job = api.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "CANCELLED" and job["timeline"][-1]["step"] == "Cancelled"
    again = api.post(f"/v1/jobs/{job_id}/cancel")
    assert again.status_code == 409
    assert again.json()["detail"]["status"] == "CANCELLED"
    assert "cannot be cancelled" in again.json()["detail"]["message"]


def test_retry_of_a_job_whose_upload_never_arrived_or_that_has_not_ended_is_a_conflict(api):
    job_id = create(api)["job_id"]
    pending = api.post(f"/v1/jobs/{job_id}/retry")
    assert pending.status_code == 409 and pending.json()["detail"]["status"] == "PENDING_UPLOAD"
    api.post(f"/v1/jobs/{job_id}/cancel")
    nothing = api.post(f"/v1/jobs/{job_id}/retry")
    assert nothing.status_code == 409 and "no stored upload" in nothing.json()["detail"]["message"]


def test_another_tenants_or_a_missing_job_is_not_found(api, provisioned, aws):
    from smmu.tenants import ApiKeyStore

    job_id = create(api)["job_id"]
    token, _ = ApiKeyStore(provisioned.environment["SMMU_API_KEYS_TABLE"], aws("dynamodb")).create("other-tenant")
    other = {"Authorization": f"Bearer {token}"}
    for method, path in (("POST", "cancel"), ("POST", "retry"), ("DELETE", "")):
        url = f"/v1/jobs/{job_id}/{path}".rstrip("/")
        assert api.request(method, url, headers=other).status_code == 404
        assert api.request(method, url.replace(job_id, str(uuid.uuid4()))).status_code == 404
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "PENDING_UPLOAD"


def test_delete_of_a_pending_job_says_what_went(api):
    job_id = create(api)["job_id"]
    response = api.delete(f"/v1/jobs/{job_id}")
    assert response.status_code == 200, response.text
    report = response.json()
    # Counted by the next test (the cancel's own event may reach an endpoint another test left to this tenant).
    assert isinstance(report.pop("webhook_deliveries_removed"), int)
    assert report == {
        "job_id": job_id,
        "cancelled": True,
        "raw_objects": [],
        "outputs_removed": 0,
        "records": ["job"],
    }
    assert api.get(f"/v1/jobs/{job_id}").status_code == 404
    assert api.delete(f"/v1/jobs/{job_id}").status_code == 404


def _delivery(job_id: str, webhook_id: str, event: str) -> Delivery:
    now = now_iso()
    return Delivery(
        delivery_id=delivery_id(webhook_id, event),
        webhook_id=webhook_id,
        tenant_id="api-tests",
        event_id=event,
        event_type="job.progress" if "progress" in event else "job.completed",
        job_id=job_id,
        job_status="RUNNING",
        created_at=now,
        updated_at=now,
    )


def _deliveries_of(table: str, dynamodb, job_id: str) -> list[str]:
    """Every delivery record of the job, read from the table itself (a consistent scan, not the index)."""
    items = []
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="job_id = :j",
        ExpressionAttributeValues={":j": {"S": job_id}},
        ConsistentRead=True,
    ):
        items += [item["delivery_id"]["S"] for item in page["Items"]]
    return items


def test_delete_removes_the_jobs_webhook_delivery_records_and_no_others(api, provisioned, aws):
    table = provisioned.environment["SMMU_WEBHOOK_DELIVERIES_TABLE"]
    store = DeliveryRepository(table, aws("dynamodb"))
    job_id, other_job = create(api)["job_id"], create(api)["job_id"]
    # What the webhooks function writes for a job: deliveries to two endpoints, progress steps, an attempt log.
    # 30 of them: more than one batch of deletes (25).
    for n in range(15):
        for webhook_id in ("wh_erase_a", "wh_erase_b"):
            assert store.create(_delivery(job_id, webhook_id, progress_event_id(job_id, 1, "transcode", n)))
    store.record(
        delivery_id("wh_erase_a", progress_event_id(job_id, 1, "transcode", 0)),
        DeliveryAttempt(attempt=1, at=now_iso(), duration_ms=3.0, status_code=204),
        "delivered",
    )
    kept = _delivery(other_job, "wh_erase_a", event_id(other_job, "COMPLETED", 1))
    assert store.create(kept)

    response = api.delete(f"/v1/jobs/{job_id}")
    assert response.status_code == 200, response.text
    # At least those (the cancel it made is announced too, and may have reached an endpoint of this tenant).
    assert response.json()["webhook_deliveries_removed"] >= 30
    assert _deliveries_of(table, aws("dynamodb"), job_id) == []
    assert _deliveries_of(table, aws("dynamodb"), other_job) == [kept.delivery_id]
    assert store.get(kept.delivery_id) == kept
