"""The whole system on one machine without Docker: embedded cloud, provisioned resources, the API process."""

import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx

from smmu.tenants import ApiKeyStore
from smmu_stack.embedded.cloud import CREDENTIALS, EmbeddedCloud
from smmu_stack.embedded.services import WorkerService, worker_environment
from smmu_stack.manifest import REPO_ROOT, Manifest
from smmu_stack.provision import Provisioned, provision

log = logging.getLogger("smmu.stack")
DEV_TENANT = "dev"
#: In the work directory: the dev tenant's API key, for the CLI and the tests.
API_KEY_FILE = "api-key"


@dataclass
class StackConfig:
    host: str = "127.0.0.1"
    emulator_port: int = 4566
    api_port: int = 8000
    region: str = "us-east-1"
    work_dir: Path = field(default_factory=lambda: REPO_ROOT / ".smmu")
    #: Extra SMMU_* settings for the API, the functions and the workers (e.g. a smaller upload limit).
    overrides: dict[str, str] = field(default_factory=dict)
    #: Run the media worker services (FFmpeg, Whisper) as local processes.
    workers: bool = True


class EmbeddedStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.cloud = EmbeddedCloud(config.host, config.emulator_port, config.region, config.work_dir)
        self.api_url = f"http://{config.host}:{config.api_port}"
        self.provisioned: Provisioned | None = None
        self._api: subprocess.Popen[bytes] | None = None
        self.services: list[WorkerService] = []
        #: The dev tenant's API key, created at every start (the embedded cloud keeps nothing between runs).
        self.api_key: str | None = None

    @property
    def endpoint_url(self) -> str:
        return self.cloud.endpoint_url

    @property
    def web_origins(self) -> list[str]:
        """The origins a browser may reach the API (and so the web app) under."""
        origins = [self.api_url]
        if self.config.host == "127.0.0.1":
            origins.append(f"http://localhost:{self.config.api_port}")
        return origins

    def client_environment(self) -> dict[str, str]:
        """What a process needs to talk to this stack's cloud with boto3 or the AWS CLI."""
        return {
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.config.region,
        }

    def start(self) -> None:
        started = time.perf_counter()
        self.config.work_dir.mkdir(parents=True, exist_ok=True)
        self.cloud.start()
        manifest = Manifest.load()
        # The web app (served by the API at /app) uploads to and plays from the buckets: their CORS rules must
        # admit the API's own origin. A --set SMMU_CORS_ORIGINS=... replaces this.
        manifest.data["environment"]["SMMU_CORS_ORIGINS"] = json.dumps(self.web_origins)
        if self.config.overrides:
            manifest.data["environment"].update(self.config.overrides)
        self.provisioned = provision(self.endpoint_url, self.config.region, manifest)
        self._create_dev_key()
        self.cloud.start_event_sources()
        self.cloud.start_schedules()
        self.cloud.watch_dead_letters()
        if self.config.workers:
            self._start_workers(manifest)
        self._start_api()
        log.info("stack ready in %.1fs", time.perf_counter() - started)

    def _create_dev_key(self) -> None:
        """A key for the dev tenant, written to ``<work dir>/api-key`` (owner-only) where the CLI and the tests
        find it; ``smmu dev`` prints it."""
        assert self.provisioned is not None
        dynamodb = boto3.session.Session(region_name=self.config.region).client(
            "dynamodb", endpoint_url=self.endpoint_url
        )
        store = ApiKeyStore(self.provisioned.environment["SMMU_API_KEYS_TABLE"], dynamodb)
        self.api_key, _ = store.create(DEV_TENANT, name="smmu dev")
        path = self.config.work_dir / API_KEY_FILE
        path.touch(mode=0o600)
        path.write_text(self.api_key + "\n")

    def _start_workers(self, manifest: Manifest) -> None:
        assert self.provisioned is not None
        # One scratch root for all workers, as on one host: a replacement cleans up after the worker it replaces.
        scratch = self.config.work_dir / "scratch"
        base = {"SMMU_WORKER_TEMP_DIR": str(scratch), **self.client_environment(), **self.provisioned.environment}
        for key, worker in manifest.data.get("workers", {}).items():
            service = WorkerService(
                name=worker["name"],
                command=worker["command"],
                env=worker_environment(base, key, self.provisioned.queue_urls[worker["queue"]]),
                work_dir=self.config.work_dir,
                cwd=REPO_ROOT,
            )
            service.start()
            self.services.append(service)

    def _start_api(self) -> None:
        assert self.provisioned is not None
        # Like the dev key, the playback secret is made afresh at every start (unless one is given): playback
        # URLs then last as long as this stack.
        generated = {"SMMU_PLAYBACK_SECRET": secrets.token_urlsafe(32)}
        env = {**generated, **os.environ, **self.client_environment(), **self.provisioned.environment}
        log_file = open(self.config.work_dir / "api.log", "ab")  # noqa: SIM115 - owned by the API process
        self._api = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.main:app",
                "--host",
                self.config.host,
                "--port",
                str(self.config.api_port),
                "--no-access-log",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._api.poll() is not None:
                raise RuntimeError(f"the API exited with {self._api.returncode}; see {log_file.name}")
            try:
                if httpx.get(f"{self.api_url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the API did not become healthy within 30 s")

    def stop(self) -> None:
        # The API first (it stops at once), then the worker services all together: each may wait out a long poll
        # of its queue, and one after another those waits added up past what a caller waits (then the API was
        # left running when the caller killed this process).
        if self._api is not None and self._api.poll() is None:
            self._api.terminate()
            try:
                self._api.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._api.kill()
        stopping = [threading.Thread(target=service.stop, name=f"stop-{service.name}") for service in self.services]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        self.cloud.stop()

    def __enter__(self) -> "EmbeddedStack":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
