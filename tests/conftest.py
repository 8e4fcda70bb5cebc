"""Shared fixtures: one embedded cloud (moto + Lambda executor + event sources) in this process, provisioned from
the manifest, for the integration and API tests. The e2e suite starts its own stack (see tests/e2e/conftest.py)."""

import os
import secrets
from dataclasses import dataclass

import boto3
import pytest

from smmu_stack.devkit import free_port
from smmu_stack.embedded.cloud import EmbeddedCloud
from smmu_stack.manifest import Manifest
from smmu_stack.provision import Provisioned, provision

REGION = "us-east-1"
# The API refuses to start without its playback secret; every stack the tests start gets one made here.
os.environ.setdefault("SMMU_PLAYBACK_SECRET", secrets.token_urlsafe(32))


@dataclass
class LambdaContext:
    """What a handler reads of Lambda's context object (powertools logs these), for calling handlers directly."""

    function_name: str = "test"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:test"
    aws_request_id: str = "request-1"


def make_job(jobs, status=None, job_id: str | None = None, tenant_id: str = "default") -> str:
    """Store a job (default PENDING_UPLOAD) in the jobs table and return its id."""
    import uuid

    from smmu.jobs import JobStatus, new_job

    job_id = job_id or str(uuid.uuid4())
    job = new_job(
        job_id=job_id,
        tenant_id=tenant_id,
        filename="a.jpg",
        content_type="image/jpeg",
        size_bytes=10,
        raw_bucket="smmu-raw",
        raw_key=f"uploads/{tenant_id}/{job_id}/a.jpg",
        upload_ttl_seconds=60,
        pending_ttl_seconds=3600,
    )
    if status not in (None, JobStatus.PENDING_UPLOAD):
        job = job.model_copy(update={"status": status, "expires_at": None})
    jobs.create(job)
    return job_id


@pytest.fixture(scope="session")
def cloud(tmp_path_factory) -> EmbeddedCloud:
    embedded = EmbeddedCloud(port=free_port(), region=REGION, work_dir=tmp_path_factory.mktemp("cloud"))
    embedded.start()
    # The domain core's clients read these, as they do in every deployment.
    os.environ.update({"AWS_ENDPOINT_URL": embedded.endpoint_url, "AWS_DEFAULT_REGION": REGION})
    yield embedded
    embedded.stop()


@pytest.fixture(scope="session")
def provisioned(cloud) -> Provisioned:
    return provision(cloud.endpoint_url, REGION, Manifest.load())


@pytest.fixture(scope="session")
def aws(cloud):
    session = boto3.session.Session(region_name=REGION)
    return lambda service: session.client(service, endpoint_url=cloud.endpoint_url)
