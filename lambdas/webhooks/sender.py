"""One HTTP POST to a receiver, bounded: it connects to the address the SSRF guard checked (never resolving the host
again), follows no redirect, gives up after the timeout and reads at most a few KiB of the answer."""

import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from smmu.ssrf import CheckedUrl


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    error: str | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def pinned_url(checked: CheckedUrl) -> str:
    """The URL with its host replaced by the checked address (IPv6 in brackets)."""
    address = checked.addresses[0]
    host = f"[{address}]" if ":" in address else address
    parts = urlsplit(checked.url)
    return urlunsplit((parts.scheme, f"{host}:{checked.port}", parts.path or "/", parts.query, ""))


def post(
    checked: CheckedUrl, headers: dict[str, str], body: bytes, *, timeout_seconds: float, max_response_bytes: int
) -> SendResult:
    started = time.perf_counter()
    deadline = started + 2 * timeout_seconds

    def elapsed() -> float:
        return round((time.perf_counter() - started) * 1000, 1)

    host_header = urlsplit(checked.url).netloc.rsplit("@", 1)[-1]
    # TLS still verifies the certificate against the host name (SNI), though the connection goes to an address.
    extensions = {"sni_hostname": checked.host} if checked.scheme == "https" else {}
    try:
        # trust_env=False: no proxy from the environment may carry the request somewhere the guard did not check.
        with (
            httpx.Client(timeout=httpx.Timeout(timeout_seconds), follow_redirects=False, trust_env=False) as client,
            client.stream(
                "POST",
                pinned_url(checked),
                content=body,
                headers={**headers, "host": host_header},
                extensions=extensions,
            ) as response,
        ):
            received = 0
            for chunk in response.iter_bytes():
                received += len(chunk)
                # A receiver that streams a large or endless answer is not waited for: its status is known.
                if received >= max_response_bytes or time.perf_counter() > deadline:
                    break
            status = response.status_code
    except httpx.TimeoutException as exc:
        return SendResult(None, f"timed out after {timeout_seconds:g}s ({type(exc).__name__})", elapsed())
    except httpx.HTTPError as exc:
        return SendResult(None, f"{type(exc).__name__}: {exc}"[:300], elapsed())
    if 300 <= status < 400:
        return SendResult(status, f"the receiver redirected (HTTP {status}); redirects are not followed", elapsed())
    if not 200 <= status < 300:
        return SendResult(status, f"the receiver answered HTTP {status}", elapsed())
    return SendResult(status, None, elapsed())
