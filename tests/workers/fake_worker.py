"""A worker for the runtime's tests: the input's text says what to do. ``python -m tests.workers.fake_worker``.

- ``ok``: two output files (one listed, one not).
- ``corrupt``: CorruptMediaError; ``crash``: an unexpected RuntimeError.
- ``hang-once``: the first attempt at a job hangs (until killed or cancelled), later ones succeed.
- ``tool-hang-once:<seconds>``: the same, but the hanging is a child process (``sleep <seconds>``).
- ``bug``: a ValueError, as ffmpeg-python raises for a graph it cannot build.
- ``slow:<seconds>``: works that long, then succeeds.
"""

import os
import sys
import time
import uuid
from pathlib import Path

from smmu.errors import CorruptMediaError
from workers.runtime import Artifact, TaskContext, WorkerSpec, WorkResult, run_worker


def _wait(ctx: TaskContext, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ctx.check()
        time.sleep(0.05)


def load():
    state = Path(os.environ["FAKE_WORKER_STATE"])

    def handle(ctx: TaskContext) -> WorkResult:
        mode = ctx.source.read_text().strip()
        job = ctx.task.job_id
        (state / f"started-{job}-{os.getpid()}-{uuid.uuid4().hex[:8]}").touch()
        if mode == "corrupt":
            raise CorruptMediaError("the file is not audio or video (test)")
        if mode == "crash":
            raise RuntimeError("the fake tool crashed")
        if mode == "bug":
            raise ValueError("a graph that cannot be built (test)")
        if mode.startswith("tool-hang-once:"):
            marker = state / f"attempted-{job}"
            if not marker.exists():
                marker.touch()
                ctx.run(["sleep", mode.split(":", 1)[1]], "sleep")
        if mode == "hang-once":
            marker = state / f"attempted-{job}"
            if not marker.exists():
                marker.touch()
                _wait(ctx, 3600)
        if mode.startswith("slow:"):
            _wait(ctx, float(mode.split(":", 1)[1]))
        listed, unlisted = ctx.workdir / "a.txt", ctx.workdir / "b.txt"
        listed.write_text(f"a for {job}")
        unlisted.write_text(f"b for {job}")
        return WorkResult(
            artifacts=[
                Artifact(path=listed, name="data/a.txt", content_type="text/plain", kind="text"),
                Artifact(path=unlisted, name="data/b.txt", content_type="text/plain"),
            ],
            result={"mode": mode, "pid": os.getpid()},
        )

    return handle


SPEC = WorkerSpec(name="fake", step="Fake", load=load)

if __name__ == "__main__":
    sys.exit(run_worker(SPEC))
