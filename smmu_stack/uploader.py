"""The client side of uploads and jobs, as any client of the public API does it (the ``smmu`` CLI's engine).

Small files go in one presigned POST. Larger ones go to S3 in parts: each part is hashed (SHA-256), its URL
carries that checksum (S3 refuses other bytes), several parts are in flight at once, and the job id of an
unfinished upload is kept in a small resume file keyed by the file's path, size and modification time — so
running the same command again after Ctrl-C or a dropped connection asks the API which parts S3 already holds
and sends only the others.
"""

import base64
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

import httpx

#: Bytes per progress update (and per read of a part being sent).
CHUNK = 256 * 1024
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")
#: Status codes worth another try (after Retry-After or a short backoff); anything else is the answer.
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class UploadError(Exception):
    """An upload the API or S3 refused, with their reason."""


class Interrupted(Exception):
    """The upload was stopped (Ctrl-C); its received parts stay in S3 for a resume."""


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def default_state_file() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "smmu" / "uploads.json"


class ResumeState:
    """Unfinished multipart uploads by file (path, size, modification time) and API: a changed file starts over."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @staticmethod
    def key(file: Path, api: str) -> str:
        stat = file.stat()
        return f"{api}|{file.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._read().get(key)

    def put(self, key: str, value: dict[str, Any] | None) -> None:
        with self._lock:
            data = self._read()
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1))
            tmp.replace(self.path)  # atomic: a Ctrl-C never leaves half a file


class Api:
    """The public API over HTTP, retrying rate limits (429 + Retry-After), 5xx and dropped connections."""

    def __init__(self, url: str, api_key: str | None, timeout: float = 30) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(6):
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError:
                if attempt == 5:
                    raise
                time.sleep(min(2**attempt * 0.2, 5))
                continue
            if response.status_code not in RETRY_STATUS or attempt == 5:
                return response
            time.sleep(min(float(response.headers.get("Retry-After", 2**attempt * 0.2)), 10))
        raise AssertionError("unreachable")

    def ok(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        if response.status_code != expected:
            raise UploadError(f"{method} {path}: {response.status_code} {_detail(response)}")
        return response.json() if response.content else None

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.ok("GET", f"/v1/jobs/{job_id}"))

    def close(self) -> None:
        self.http.close()


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail if detail is not None else response.text[:500])


@dataclass
class Transfer:
    """What one file's upload did (the CLI's --json shows it)."""

    file: str
    size_bytes: int
    job_id: str = ""
    multipart: bool = False
    part_count: int = 0
    #: Parts and bytes sent by this run; parts already in S3 from an earlier run are not sent again.
    parts_sent: int = 0
    bytes_sent: int = 0
    resumed_parts: int = 0
    checksum_sha256: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class RateLimit:
    """A shared byte budget per second (``--limit-rate``), for slow links that other traffic must share."""

    def __init__(self, bytes_per_second: int | None) -> None:
        self.rate = bytes_per_second
        self._lock = threading.Lock()
        self._next = time.monotonic()

    def take(self, size: int) -> None:
        if not self.rate:
            return
        with self._lock:
            now = time.monotonic()
            self._next = max(self._next, now) + size / self.rate
            delay = self._next - size / self.rate - now
        if delay > 0:
            time.sleep(delay)


@dataclass
class Uploader:
    api: Api
    state: ResumeState
    #: Parts in flight at once (shared by every file of one command).
    parallel: int = 8
    rate: RateLimit = field(default_factory=lambda: RateLimit(None))
    stop: threading.Event = field(default_factory=threading.Event)
    #: Per-upload processing options (``smmu.options.ProcessingOptions`` as JSON) sent with every file; None: none.
    options: dict[str, Any] | None = None
    _limits: dict[str, Any] | None = None
    _pool: ThreadPoolExecutor | None = None
    _s3: httpx.Client | None = None

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="part")
        self._s3 = httpx.Client(timeout=httpx.Timeout(60, connect=10), limits=httpx.Limits(max_connections=64))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._s3 is not None:
            self._s3.close()

    def limits(self) -> dict[str, Any]:
        if self._limits is None:
            self._limits = dict(self.api.ok("GET", "/v1/limits"))
        return self._limits

    # -- one file -----------------------------------------------------------------------------------------------
    def upload(
        self,
        file: Path,
        content_type: str,
        *,
        on_start: Callable[[int, int], None] = lambda total, done: None,
        on_bytes: Callable[[int], None] = lambda n: None,
        multipart: bool | None = None,
    ) -> Transfer:
        """Upload ``file``; resumes an unfinished multipart upload of the same file. Raises UploadError with the
        API's or S3's reason, or Interrupted when ``stop`` is set."""
        started = time.monotonic()
        size = file.stat().st_size
        transfer = Transfer(file=str(file), size_bytes=size)
        limits = self.limits()
        in_parts = multipart if multipart is not None else size > limits["multipart_threshold_bytes"]
        if in_parts:
            self._multipart(file, content_type, transfer, on_start, on_bytes)
        else:
            on_start(size, 0)
            self._post(file, content_type, transfer, on_bytes)
        transfer.seconds = round(time.monotonic() - started, 3)
        return transfer

    def _post(self, file: Path, content_type: str, transfer: Transfer, on_bytes: Callable[[int], None]) -> None:
        body = self.api.ok(
            "POST",
            "/v1/uploads",
            201,
            json={
                "filename": file.name,
                "content_type": content_type,
                "size_bytes": transfer.size_bytes,
                **self._options(),
            },
        )
        transfer.job_id = body["job_id"]
        upload = body["upload"]
        with file.open("rb") as stream:
            sent = self._client().post(
                upload["url"],
                data=upload["fields"],
                files={"file": (file.name, cast(BinaryIO, _Counting(stream, on_bytes, self)), content_type)},
            )
        if sent.status_code >= 300:
            raise UploadError(f"S3 refused the upload ({sent.status_code}): {sent.text[:500]}")
        transfer.parts_sent, transfer.bytes_sent = 1, transfer.size_bytes

    def _options(self) -> dict[str, Any]:
        return {"options": self.options} if self.options else {}

    def _client(self) -> httpx.Client:
        assert self._s3 is not None
        return self._s3

    def _multipart(
        self,
        file: Path,
        content_type: str,
        transfer: Transfer,
        on_start: Callable[[int, int], None],
        on_bytes: Callable[[int], None],
    ) -> None:
        transfer.multipart = True
        size = transfer.size_bytes
        key = ResumeState.key(file, self.api.url)
        received: dict[int, str | None] = {}
        urls: dict[int, dict[str, Any]] = {}
        saved = self.state.get(key)
        progress = None
        if saved:
            answer = self.api.call("GET", f"/v1/uploads/{saved['job_id']}/parts")
            if answer.status_code == 200:
                progress = answer.json()
            else:  # ended, aborted or expired meanwhile: start over
                self.state.put(key, None)
        if progress is not None:
            transfer.job_id = progress["job_id"]
            part_size, part_count = progress["part_size_bytes"], progress["part_count"]
            received = {p["part_number"]: p["checksum_sha256"] for p in progress["received"]}
        else:
            limits = self.limits()
            part_size = max(limits["multipart_part_bytes"], -(-size // limits["multipart_max_parts"]))
            part_count = -(-size // part_size)
            # The first parts' checksums ride along, so their URLs come with the answer.
            first = [sha256_b64(_read_part(file, n, part_size)) for n in range(1, min(part_count, self.parallel) + 1)]
            body = self.api.ok(
                "POST",
                "/v1/uploads",
                201,
                json={
                    "filename": file.name,
                    "content_type": content_type,
                    "size_bytes": size,
                    "multipart": True,
                    "part_size_bytes": part_size,
                    "part_checksums": first,
                    **self._options(),
                },
            )
            transfer.job_id = body["job_id"]
            urls = {p["part_number"]: p for p in body["multipart"]["parts"]}
            self.state.put(key, {"job_id": transfer.job_id, "file": str(file), "started_at": time.time()})
        transfer.part_count = part_count
        on_start(size, 0)
        assert self._pool is not None
        futures: list[Future[int]] = [
            self._pool.submit(
                self._send_part, file, transfer.job_id, n, part_size, received.get(n), urls.get(n), on_bytes
            )
            for n in range(1, part_count + 1)
        ]
        try:
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            errors = [f.exception() for f in done if f.exception() is not None]
            if errors:
                for future in pending:
                    future.cancel()
                raise errors[0]  # type: ignore[misc]
        except KeyboardInterrupt:
            self.stop.set()
            for future in futures:
                future.cancel()
            raise Interrupted() from None
        sent = [f.result() for f in futures]
        transfer.parts_sent = sum(1 for n in sent if n)
        transfer.bytes_sent = sum(sent)
        transfer.resumed_parts = part_count - transfer.parts_sent
        completed = self.api.ok("POST", f"/v1/uploads/{transfer.job_id}/complete")
        transfer.checksum_sha256 = completed.get("checksum_sha256")
        self.state.put(key, None)

    def _send_part(
        self,
        file: Path,
        job_id: str,
        number: int,
        part_size: int,
        in_s3: str | None,
        url: dict[str, Any] | None,
        on_bytes: Callable[[int], None],
    ) -> int:
        """Send one part unless S3 holds it with the same bytes already; the bytes sent."""
        if self.stop.is_set():
            raise Interrupted()
        data = _read_part(file, number, part_size)
        checksum = sha256_b64(data)
        if in_s3 is not None and in_s3 == checksum:
            on_bytes(len(data))
            return 0
        for attempt in range(5):
            if url is None or url["part_number"] != number:
                url = self.api.ok(
                    "POST",
                    f"/v1/uploads/{job_id}/parts",
                    json={"parts": [{"part_number": number, "checksum_sha256": checksum}]},
                )["parts"][0]
            assert url is not None
            counted = 0

            def body() -> Iterator[bytes]:
                nonlocal counted
                for start in range(0, len(data), CHUNK):
                    if self.stop.is_set():
                        raise Interrupted()
                    chunk = data[start : start + CHUNK]
                    self.rate.take(len(chunk))
                    yield chunk
                    counted += len(chunk)
                    on_bytes(len(chunk))

            try:
                if self.rate.rate:
                    answer = self._client().put(
                        url["url"], content=body(), headers={**url["headers"], "Content-Length": str(len(data))}
                    )
                else:
                    # The part goes out in one write (a Python loop over chunks halved the throughput, measured
                    # with bench/uploads.py); progress moves a part at a time.
                    answer = self._client().put(url["url"], content=data, headers=url["headers"])
                    if answer.status_code == 200:
                        counted = len(data)
                        on_bytes(counted)
            except httpx.TransportError:
                on_bytes(-counted)
                url = None if attempt else url
                time.sleep(0.2 * 2**attempt)
                continue
            if answer.status_code == 200:
                return len(data)
            on_bytes(-counted)
            if answer.status_code in RETRY_STATUS or "Request has expired" in answer.text:
                url = None  # a fresh URL (the old one may have expired while queued)
                time.sleep(0.2 * 2**attempt)
                continue
            raise UploadError(f"S3 refused part {number} ({answer.status_code}): {answer.text[:300]}")
        raise UploadError(f"part {number} could not be sent after 5 attempts")

    # -- jobs ---------------------------------------------------------------------------------------------------
    def wait(
        self, job_id: str, timeout: float, on_update: Callable[[dict[str, Any]], None] = lambda job: None
    ) -> dict[str, Any] | None:
        """The job once COMPLETED or FAILED; None after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.api.job(job_id)
            on_update(job)
            if job["status"] in TERMINAL:
                return job
            if time.monotonic() > deadline:
                return None
            time.sleep(0.25)


class _Counting:
    """A file whose reads report their size (progress of a presigned POST, which httpx streams from it)."""

    def __init__(self, stream: BinaryIO, on_bytes: Callable[[int], None], uploader: Uploader) -> None:
        self.stream = stream
        self.on_bytes = on_bytes
        self.uploader = uploader

    def read(self, size: int = -1) -> bytes:
        if self.uploader.stop.is_set():
            raise Interrupted()
        data = self.stream.read(CHUNK if size < 0 else min(size, CHUNK))
        self.uploader.rate.take(len(data))
        self.on_bytes(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _read_part(file: Path, number: int, part_size: int) -> bytes:
    with file.open("rb") as stream:
        stream.seek((number - 1) * part_size)
        return stream.read(part_size)


def download(url: str, target: Path, on_bytes: Callable[[int], None]) -> int:
    """Stream one output to ``target``; its size."""
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with httpx.stream("GET", url, timeout=60) as response:
        if response.status_code != 200:
            raise UploadError(f"download of {target.name} refused ({response.status_code})")
        with target.open("wb") as out:
            for chunk in response.iter_bytes(CHUNK):
                out.write(chunk)
                size += len(chunk)
                on_bytes(len(chunk))
    return size
