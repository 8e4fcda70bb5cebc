#!/usr/bin/env python3
"""CI/OFFLINE-ONLY SUBSTITUTE for LocalStack's Lambda init program (lambda-runtime-init, written in Go).

LocalStack's free edition copies its init program into every function container and starts the container with it
as the entrypoint. It downloads that program from GitHub on first use, which machines without GitHub access cannot
do (and building it needs Go modules they cannot fetch either). On such machines — this project's CI — this
stand-in is placed where LocalStack looks for the program (see docker/localstack/offline/compose.yml). Anywhere
else LocalStack downloads and uses its own.

It speaks the same two protocols, and nothing more:
  * to LocalStack: it answers POST :9563/invoke {invoke-id, invoked-function-arn, payload, trace-id} at once,
    and reports to $LOCALSTACK_RUNTIME_ENDPOINT: POST /status/<runtime id>/ready once the runtime is up (or
    /status/<runtime id>/error when it fails to start), and per invocation POST /invocations/<id>/logs
    {"logs": ...}, then /invocations/<id>/response or /invocations/<id>/error;
  * to the function's runtime: the AWS Lambda Runtime API on 127.0.0.1:9001 (next, response, error, init/error),
    which the runtime's bootstrap (/var/runtime/bootstrap, e.g. awslambdaric) polls.
A timed-out invocation is reported as the real init reports it ("Task timed out after N.00 seconds", no
errorType) and the runtime is restarted. Like the free edition's own init it knows nothing of layers: /opt is
whatever the image has, and layer contents are never mounted or unpacked.
"""

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RUNTIME_API = ("127.0.0.1", 9001)
INTEROP_PORT = int(os.environ.get("LOCALSTACK_INTEROP_PORT", "9563"))
UPSTREAM = os.environ["LOCALSTACK_RUNTIME_ENDPOINT"]
RUNTIME_ID = os.environ["LOCALSTACK_RUNTIME_ID"]
TIMEOUT = int(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
BOOTSTRAP = next(
    (p for p in ("/var/runtime/bootstrap", "/var/task/bootstrap") if os.access(p, os.X_OK)), "/var/runtime/bootstrap"
)
# The variables meant for this program only; the runtime does not see them (as with the real init).
PRIVATE = ("LOCALSTACK_RUNTIME_ENDPOINT", "LOCALSTACK_RUNTIME_ID", "LOCALSTACK_CHMOD_PATHS", "LOCALSTACK_USER")


def post(path: str, body: bytes) -> None:
    request = urllib.request.Request(
        UPSTREAM + path, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


class Invocation:
    def __init__(self, spec: dict) -> None:
        self.id: str = spec["invoke-id"]
        self.arn: str = spec["invoked-function-arn"]
        self.payload: bytes = spec["payload"].encode()
        self.trace_id: str = spec.get("trace-id", "")
        self.deadline = time.time() + TIMEOUT
        self.result: queue.Queue[tuple[bool, bytes]] = queue.Queue(maxsize=1)


class Runtime:
    """The function's runtime process and the state the Runtime API shares with it."""

    def __init__(self) -> None:
        self.pending: queue.Queue[Invocation] = queue.Queue()
        self.current: Invocation | None = None
        self.ready = threading.Event()
        self.init_error: bytes | None = None
        self.logs: list[str] = []
        self.logs_lock = threading.Lock()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.ready.clear()
        self.init_error = None
        env = {k: v for k, v in os.environ.items() if k not in PRIVATE}
        env["AWS_LAMBDA_RUNTIME_API"] = f"{RUNTIME_API[0]}:{RUNTIME_API[1]}"
        self.process = subprocess.Popen(
            [BOOTSTRAP],
            cwd="/var/task",
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._pump, args=(self.process,), daemon=True).start()

    def _pump(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            with self.logs_lock:
                self.logs.append(line)

    def take_logs(self) -> str:
        with self.logs_lock:
            text, self.logs = "".join(self.logs), []
        return text

    def restart(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.start()


RUNTIME = Runtime()


class RuntimeApi(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet: the function's own output is what the logs are for
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        if self.path != "/2018-06-01/runtime/invocation/next":
            self._reply(404)
            return
        RUNTIME.ready.set()
        invocation = RUNTIME.pending.get()
        RUNTIME.current = invocation
        self._reply(
            200,
            invocation.payload,
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": invocation.id,
                "Lambda-Runtime-Deadline-Ms": str(int(invocation.deadline * 1000)),
                "Lambda-Runtime-Invoked-Function-Arn": invocation.arn,
                "Lambda-Runtime-Trace-Id": invocation.trace_id,
            },
        )

    def do_POST(self) -> None:
        body = self._body()
        parts = self.path.strip("/").split("/")  # 2018-06-01 runtime invocation <id> response|error
        if parts[2:] == ["init", "error"]:
            RUNTIME.init_error = body or b'{"errorMessage": "runtime failed to start"}'
            RUNTIME.ready.set()
            self._reply(202, b'{"status": "OK"}')
            return
        if len(parts) == 5 and parts[2] == "invocation" and parts[4] in ("response", "error"):
            current = RUNTIME.current
            if current is None or current.id != parts[3]:
                self._reply(400, b'{"errorMessage": "unknown request id"}')
                return
            with contextlib.suppress(queue.Full):
                current.result.put_nowait((parts[4] == "error", body))
            self._reply(202, b'{"status": "OK"}')
            return
        self._reply(404)


def run_invocation(invocation: Invocation) -> None:
    started = time.time()
    print(f"START RequestId: {invocation.id} Version: {os.environ.get('AWS_LAMBDA_FUNCTION_VERSION', '$LATEST')}")
    RUNTIME.pending.put(invocation)
    try:
        is_error, body = invocation.result.get(timeout=max(invocation.deadline - time.time(), 0.1))
    except queue.Empty:
        is_error = True
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body = json.dumps({"errorMessage": f"{stamp} {invocation.id} Task timed out after {TIMEOUT}.00 seconds"})
        body = body.encode()
        RUNTIME.restart()  # the runtime still holds the timed-out invocation: start afresh, like a reset sandbox
    duration = (time.time() - started) * 1000
    print(f"END RequestId: {invocation.id}")
    print(
        f"REPORT RequestId: {invocation.id}\tDuration: {duration:.2f} ms\tBilled Duration: {int(duration) + 1} ms\t"
        f"Memory Size: {os.environ.get('AWS_LAMBDA_FUNCTION_MEMORY_SIZE', '128')} MB"
    )
    sys.stdout.flush()
    logs = RUNTIME.take_logs()
    logs = f"START RequestId: {invocation.id}\n{logs}END RequestId: {invocation.id}\n"
    post(f"/invocations/{invocation.id}/logs", json.dumps({"logs": logs}).encode())
    if not is_error:  # a returned error object counts as an error, as for the real init
        with contextlib.suppress(ValueError, TypeError):
            is_error = "errorType" in json.loads(body)
    post(f"/invocations/{invocation.id}/{'error' if is_error else 'response'}", body)


# One invocation at a time per container (LocalStack sends the next one only after the previous result).
INVOCATIONS: "queue.Queue[Invocation]" = queue.Queue()


def invoker() -> None:
    while True:
        invocation = INVOCATIONS.get()
        try:
            run_invocation(invocation)
        except Exception as exc:  # keep serving; LocalStack times the invocation out
            print(f"init stand-in: invocation {invocation.id} failed: {exc!r}", file=sys.stderr)


class Interop(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/invoke":
            self.send_response(404)
            self.end_headers()
            return
        INVOCATIONS.put(Invocation(json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")


def chmod_paths() -> None:
    for entry in json.loads(os.environ.get("LOCALSTACK_CHMOD_PATHS", "[]")):
        with contextlib.suppress(OSError):
            os.chmod(entry["path"], int(entry["mode"], 8))


def main() -> None:
    chmod_paths()
    threading.Thread(target=ThreadingHTTPServer(RUNTIME_API, RuntimeApi).serve_forever, daemon=True).start()
    threading.Thread(target=invoker, daemon=True).start()
    RUNTIME.start()
    while not RUNTIME.ready.wait(0.1):
        if RUNTIME.process and RUNTIME.process.poll() is not None:
            RUNTIME.init_error = json.dumps(
                {"errorMessage": f"Runtime exited with status {RUNTIME.process.returncode} before it was ready"}
            ).encode()
            break
    if RUNTIME.init_error is not None:
        post(f"/status/{RUNTIME_ID}/error", RUNTIME.init_error)
    else:
        post(f"/status/{RUNTIME_ID}/ready", b"")
    ThreadingHTTPServer(("0.0.0.0", INTEROP_PORT), Interop).serve_forever()


if __name__ == "__main__":
    main()
