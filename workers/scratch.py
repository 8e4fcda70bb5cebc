"""A worker's scratch directory, and what a starting worker does with the ones dead workers left.

Every worker process owns ``<root>/<id>/`` (per-task temp dirs live in it) and holds an exclusive ``flock`` on
``<root>/<id>.lock`` for as long as it lives. The kernel releases that lock when the process dies however it
dies (SIGKILL, OOM), so a lock another process can take marks a dead owner — no pid files that a reused pid
could fool. While a task runs its token is in ``<root>/<id>/task.json``: a starting worker that finds a dead
owner's task answers it with ``WorkerError`` at once (the state machine retries it now instead of after the
heartbeat timeout), deletes its message, and removes the directory.

Where workers share no disk (one container per task on ECS) the heartbeat timeout remains the signal.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any


@dataclass(frozen=True)
class Orphan:
    """What a dead worker left: its directory and, if it died mid-task, that task's token and message."""

    directory: Path
    task: dict[str, Any] | None


class Scratch:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock: IO[bytes] | None = open(root / f"{self.id}.lock", "wb")  # noqa: SIM115 - held for life
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.directory = root / self.id
        self.directory.mkdir()

    @property
    def task_file(self) -> Path:
        return self.directory / "task.json"

    def task_started(self, task: dict[str, Any]) -> None:
        staging = self.task_file.with_suffix(".tmp")
        staging.write_text(json.dumps(task))
        staging.replace(self.task_file)

    def task_ended(self) -> None:
        self.task_file.unlink(missing_ok=True)

    def orphans(self) -> list[Orphan]:
        """Scratch directories of workers that are no longer alive (their lock is free)."""
        found = []
        for lock_path in sorted(self.root.glob("*.lock")):
            if lock_path.stem == self.id:
                continue
            try:
                handle = open(lock_path, "rb")  # noqa: SIM115 - closed below
            except FileNotFoundError:  # another starting worker got there first
                continue
            with handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # alive
                directory = self.root / lock_path.stem
                task = None
                with contextlib.suppress(OSError, ValueError):
                    task = json.loads((directory / "task.json").read_text())
                found.append(Orphan(directory=directory, task=task))
        return found

    def remove(self, orphan: Orphan) -> None:
        shutil.rmtree(orphan.directory, ignore_errors=True)
        (self.root / f"{orphan.directory.name}.lock").unlink(missing_ok=True)

    def close(self) -> None:
        """Remove this worker's own directory and lock (a clean exit)."""
        shutil.rmtree(self.directory, ignore_errors=True)
        if self._lock is not None:
            (self.root / f"{self.id}.lock").unlink(missing_ok=True)
            self._lock.close()
            self._lock = None
