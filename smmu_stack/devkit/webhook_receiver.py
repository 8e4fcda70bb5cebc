"""A webhook receiver on 127.0.0.1 for the benchmarks: it keeps every request it gets (arrival time, body,
headers) and answers 204, so a benchmark can verify signatures and time deliveries on the machine's clock."""

import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from smmu_stack.devkit import free_port

#: When a request arrived (Unix seconds), its body and its headers.
Arrival = tuple[float, bytes, dict[str, str]]


def parse_time(value: str) -> float:
    """A time the API wrote (ISO 8601, ``Z`` or an offset) as Unix seconds."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class WebhookReceiver:
    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                arrived = time.time()
                with receiver.lock:
                    receiver.arrivals.append((arrived, body, dict(self.headers.items())))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, job_id: str) -> list[Arrival]:
        """The requests about one job, in the order they arrived."""
        with self.lock:
            return [a for a in self.arrivals if json.loads(a[1])["data"]["job_id"] == job_id]

    def first(self, job_id: str, timeout: float = 60) -> Arrival:
        """The first request about ``job_id``, waiting for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if arrivals := self.of(job_id):
                return arrivals[0]
            time.sleep(0.01)
        raise RuntimeError(f"no delivery for job {job_id} within {timeout}s")

    def stop(self) -> None:
        self.server.shutdown()
