"""The presigned POST carries the policy that AWS enforces (emulators do not, so it is checked here)."""

import base64
import json
from datetime import UTC, datetime

import pytest

pytestmark = pytest.mark.integration


def test_presigned_post_policy_bounds_key_type_size_and_time(api):
    response = api.post(
        "/v1/uploads", json={"filename": "../My Cat.JPG", "content_type": "image/jpg", "size_bytes": 4321}
    )
    assert response.status_code == 201
    body = response.json()
    fields = body["upload"]["fields"]
    assert fields["key"] == f"uploads/api-tests/{body['job_id']}/My_Cat.JPG"
    assert fields["Content-Type"] == "image/jpeg"  # canonical spelling
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1, 4321] in conditions
    assert {"Content-Type": "image/jpeg"} in conditions
    assert {"key": fields["key"]} in conditions
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert 0 < (expires - datetime.now(UTC)).total_seconds() <= 900


def test_job_is_pending_until_the_upload_arrives(api):
    job_id = api.post("/v1/uploads", json={"filename": "a.png", "content_type": "image/png", "size_bytes": 10}).json()[
        "job_id"
    ]
    job = api.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "PENDING_UPLOAD"
    assert job["outputs"] == [] and job["error"] is None
    assert [e["step"] for e in job["timeline"]] == ["UploadRequested"]


def test_openapi_documents_the_routes(api):
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/v1/uploads", "/v1/jobs", "/v1/jobs/{job_id}", "/v1/limits", "/healthz"} <= set(paths)
