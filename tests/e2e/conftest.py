"""The e2e suite runs unchanged against any target, chosen by SMMU_E2E_TARGET:

- ``embedded`` (default): starts ``smmu dev`` (embedded cloud + API) on free ports for the session;
- ``compose``: a running ``docker compose`` stack on the moto emulator; ``localstack``: the same stack on LocalStack
  (SMMU_EMULATOR=localstack); ``aws``: a deployment. They read SMMU_API_URL, SMMU_API_KEY (a key of the ``dev``
  tenant, or of SMMU_E2E_TENANT) and AWS_ENDPOINT_URL (unset for real AWS) from the environment.
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from smmu_stack.devkit import free_port
from smmu_stack.manifest import REPO_ROOT, Account, Manifest

TARGET = os.environ.get("SMMU_E2E_TARGET", "embedded")
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
ACTIVE = ("QUEUED", "RUNNING")
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")
#: The embedded stack's multipart part size, so a multipart test needs under a megabyte of real media.
SMALL_PART = 256 * 1024
#: The embedded stack's webhook retry bound (attempts; 1 s, then 2 s apart).
WEBHOOK_MAX_ATTEMPTS = 3


@dataclass
class Target:
    api_url: str
    endpoint_url: str | None
    manifest: Manifest = field(default_factory=Manifest.load)
    #: The embedded stack's work directory (worker process ids, logs); None for other targets.
    work_dir: Path | None = None
    #: An API key of ``tenant`` (the embedded stack writes the dev tenant's into its work directory).
    api_key: str = ""
    tenant: str = "dev"

    def client(self, service: str) -> Any:
        return boto3.session.Session(region_name=REGION).client(service, endpoint_url=self.endpoint_url)

    @property
    def account(self) -> Account:
        return Account(self.client("sts").get_caller_identity()["Account"], REGION)


def _start_embedded(tmp_path_factory) -> Iterator[Target]:
    api_port, emulator_port = free_port(), free_port()
    work_dir = tmp_path_factory.mktemp("stack")
    log_path = work_dir / "smmu-dev.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "SMMU_"))}
    env.setdefault("AWS_ACCESS_KEY_ID", "testing")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    # Multipart tests use parts of 256 KiB (S3's minimum is 5 MiB): the emulator's minimum comes down with ours.
    env["S3_UPLOAD_PART_MIN_SIZE"] = str(SMALL_PART)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "smmu_stack.cli",
                "dev",
                "--api-port",
                str(api_port),
                "--emulator-port",
                str(emulator_port),
                "--work-dir",
                str(work_dir),
                "--set",
                f"SMMU_MULTIPART_PART_BYTES={SMALL_PART}",
                "--set",
                f"SMMU_MULTIPART_MIN_PART_BYTES={SMALL_PART}",
                # Webhook tests: a receiver on 127.0.0.1, and retry bounds small enough to reach in seconds.
                *("--set", 'SMMU_WEBHOOK_ALLOWED_NETWORKS=["127.0.0.0/8"]'),
                *("--set", f"SMMU_WEBHOOK_MAX_ATTEMPTS={WEBHOOK_MAX_ATTEMPTS}"),
                *("--set", "SMMU_WEBHOOK_BACKOFF_BASE_SECONDS=1"),
                *("--set", "SMMU_WEBHOOK_TIMEOUT_SECONDS=1"),
                # Progress reported every 0.5 s (not 2 s): a few-second transcode then reports several steps.
                *("--set", "SMMU_WORKER_PROGRESS_INTERVAL_SECONDS=0.5"),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    target = Target(
        api_url=f"http://127.0.0.1:{api_port}", endpoint_url=f"http://127.0.0.1:{emulator_port}", work_dir=work_dir
    )
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"smmu dev did not come up:\n{log_path.read_text()[-4000:]}")
        try:
            if httpx.get(f"{target.api_url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    target.api_key = (work_dir / "api-key").read_text().strip()
    try:
        yield target
    finally:
        process.terminate()
        try:
            # The worker services may each finish a long poll of their queue first (~20 s).
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def target(tmp_path_factory) -> Iterator[Target]:
    if TARGET == "embedded":
        yield from _start_embedded(tmp_path_factory)
    elif TARGET in ("compose", "localstack", "aws"):
        yield Target(
            api_url=os.environ["SMMU_API_URL"],
            endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
            api_key=os.environ["SMMU_API_KEY"],
            tenant=os.environ.get("SMMU_E2E_TENANT", "dev"),
        )
    else:
        raise pytest.UsageError(f"unknown SMMU_E2E_TARGET {TARGET!r}")


class Client:
    """A client of the public API, doing what any user's client does."""

    def __init__(self, target: Target, api_key: str | None = None) -> None:
        self.target = target
        self.http = httpx.Client(
            base_url=target.api_url, timeout=30, headers={"Authorization": f"Bearer {api_key or target.api_key}"}
        )
        self.created: list[str] = []

    def request_upload(self, filename: str, content_type: str, size: int) -> httpx.Response:
        response = self.http.post(
            "/v1/uploads", json={"filename": filename, "content_type": content_type, "size_bytes": size}
        )
        if response.status_code == 201:
            self.created.append(response.json()["job_id"])
        return response

    @staticmethod
    def post_file(upload: dict[str, Any], data: bytes, filename: str = "file") -> httpx.Response:
        content_type = upload["fields"].get("Content-Type", "application/octet-stream")
        return httpx.post(
            upload["url"], data=upload["fields"], files={"file": (filename, data, content_type)}, timeout=60
        )

    def upload(
        self, data: bytes, filename: str, content_type: str, declared_size: int | None = None
    ) -> tuple[str, httpx.Response]:
        created = self.request_upload(filename, content_type, declared_size or len(data))
        assert created.status_code == 201, created.text
        body = created.json()
        return body["job_id"], self.post_file(body["upload"], data, filename)

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.http.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["status"] in TERMINAL:
                return job
            if time.monotonic() > deadline:
                pytest.fail(f"job {job_id} still {job['status']} after {timeout}s: {job['timeline']}")
            time.sleep(0.2)


@pytest.fixture
def client(target) -> Iterator[Client]:
    api = Client(target)
    yield api
    # No job a test started may be left QUEUED or RUNNING.
    deadline = time.monotonic() + 60
    for job_id in api.created:
        while (status := api.job(job_id)["status"]) in ACTIVE and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status not in ACTIVE, f"job {job_id} left {status}"
    api.http.close()
