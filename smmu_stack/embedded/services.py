"""Long-running worker services for the embedded target: what ECS services are on AWS.

Each service keeps its desired number of worker processes running and replaces one that exits, as ECS replaces
a stopped task. The current process ids are written to ``<work_dir>/services/<name>.json`` so an operator (or a
fault test) can find and kill one.
"""

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger("smmu.services")


class WorkerService:
    def __init__(
        self, name: str, command: list[str], env: dict[str, str], work_dir: Path, cwd: Path, desired_count: int = 1
    ) -> None:
        self.name = name
        self.command = [sys.executable if part == "python" else part for part in command]
        self.env = env
        self.cwd = cwd
        self.desired_count = desired_count
        self.state_file = work_dir / "services" / f"{name}.json"
        self.log_file = work_dir / "logs" / f"{name}.log"
        self._processes: list[subprocess.Popen[bytes]] = []
        self._started: list[float] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.replacements = 0

    def start(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            for _ in range(self.desired_count):
                self._processes.append(self._spawn())
                self._started.append(time.monotonic())
            self._write_state()
        threading.Thread(target=self._supervise, name=f"service-{self.name}", daemon=True).start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        with open(self.log_file, "ab") as log_stream:
            return subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env, stdout=log_stream, stderr=subprocess.STDOUT
            )

    def _supervise(self) -> None:
        # A worker that keeps dying at start (a missing ffmpeg, a bad setting) is restarted with a growing
        # delay, as ECS throttles a service whose tasks fail to start, instead of in a tight loop.
        delay = 0.0
        while not self._stopping.wait(0.5 + delay):
            with self._lock:
                for index, process in enumerate(self._processes):
                    if process.poll() is not None and not self._stopping.is_set():
                        lived = time.monotonic() - self._started[index]
                        delay = min(30.0, max(1.0, delay * 2)) if lived < 10 else 0.0
                        log.warning("%s worker %d exited with %s after %.0fs; starting a replacement (see %s)",
                                    self.name, process.pid, process.returncode, lived, self.log_file)  # fmt: skip
                        self._processes[index] = self._spawn()
                        self._started[index] = time.monotonic()
                        self.replacements += 1
                        self._write_state()

    def _write_state(self) -> None:
        state = {"name": self.name, "pids": [p.pid for p in self._processes], "replacements": self.replacements}
        # Replaced, not rewritten in place: a reader never sees a half-written file.
        staging = self.state_file.with_suffix(".tmp")
        staging.write_text(json.dumps(state))
        staging.replace(self.state_file)

    def stop(self, grace_seconds: float = 30) -> None:
        """SIGTERM (workers finish or release their task), then SIGKILL after the grace period."""
        self._stopping.set()
        with self._lock:
            for process in self._processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in self._processes:
                try:
                    process.wait(timeout=grace_seconds)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.state_file.unlink(missing_ok=True)


def worker_environment(base: dict[str, str], worker_key: str, queue_url: str) -> dict[str, str]:
    """A worker's environment: the stack's settings plus its own queue."""
    return {**os.environ, **base, f"SMMU_{worker_key.upper()}_QUEUE_URL": queue_url}
