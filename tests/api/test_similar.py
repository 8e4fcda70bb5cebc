"""``GET /v1/jobs/{id}/similar``: exact duplicates (same bytes) and near ones (perceptual hash within the limit)
reported apart, only among the caller's tenant's jobs."""

import time

import pytest

from smmu.jobs import JobStatus, content_key
from smmu.repository import JobRepository
from smmu.tenants import ApiKeyStore
from tests.conftest import make_job

pytestmark = pytest.mark.integration

BASE = "f" * 32


def _flip(bits: int) -> str:
    """BASE with its lowest ``bits`` bits cleared: that many bits away."""
    return f"{int(BASE, 16) & ~((1 << bits) - 1):032x}"


def _image_job(jobs, tenant: str, phash: str, sha: str, status=JobStatus.COMPLETED) -> str:
    job_id = make_job(jobs, status=status, tenant_id=tenant)
    jobs.update_fields(
        job_id,
        {"perceptual_hash": phash, "sha256": sha, "content_key": content_key(tenant, sha), "media_type": "image"},
    )
    time.sleep(0.002)
    return job_id


def test_exact_and_near_duplicates_are_reported_apart_within_the_tenant(api, provisioned, aws):
    jobs = JobRepository(provisioned.environment["SMMU_JOBS_TABLE"], aws("dynamodb"))
    same, other = "a" * 64, "b" * 64
    original = _image_job(jobs, "api-tests", BASE, same)
    exact = _image_job(jobs, "api-tests", BASE, same)
    near = _image_job(jobs, "api-tests", _flip(5), other)
    far = _image_job(jobs, "api-tests", _flip(40), "c" * 64)
    foreign = _image_job(jobs, "someone-else", BASE, same)

    body = api.get(f"/v1/jobs/{original}/similar").json()
    assert [j["job_id"] for j in body["exact"]] == [exact]
    assert [(j["job_id"], j["distance"]) for j in body["near"]] == [(near, 5)]
    listed = {j["job_id"] for j in body["exact"] + body["near"]}
    assert far not in listed and foreign not in listed and original not in listed

    strict = api.get(f"/v1/jobs/{original}/similar", params={"max_distance": 4}).json()
    assert strict["near"] == [] and strict["max_distance"] == 4
    assert api.get(f"/v1/jobs/{original}/similar", params={"max_distance": 129}).status_code == 422

    # Another tenant's job answers as a missing one does.
    assert api.get(f"/v1/jobs/{foreign}/similar").status_code == 404
    token, _ = ApiKeyStore(provisioned.environment["SMMU_API_KEYS_TABLE"], aws("dynamodb")).create("someone-else")
    theirs = api.get(f"/v1/jobs/{foreign}/similar", headers={"Authorization": f"Bearer {token}"}).json()
    assert theirs["exact"] == [] and theirs["near"] == []


def test_a_job_without_a_fingerprint_is_a_conflict_not_an_error(api, provisioned, aws):
    jobs = JobRepository(provisioned.environment["SMMU_JOBS_TABLE"], aws("dynamodb"))
    running = _image_job(jobs, "api-tests", BASE, "d" * 64, status=JobStatus.RUNNING)
    response = api.get(f"/v1/jobs/{running}/similar")
    assert response.status_code == 409
    assert "only completed image and video jobs have one" in response.json()["detail"]
    assert api.get("/v1/jobs/00000000-0000-4000-8000-000000000000/similar").status_code == 404
