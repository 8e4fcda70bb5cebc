"""Running a media tool as a child process that can be cancelled, with its stderr kept on disk, not in memory."""

import ctypes
import ctypes.util
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from smmu.errors import CorruptMediaError
from workers.errors import ProcessingError, TaskCancelled, WorkerError

#: What FFmpeg says when the input itself is broken (as opposed to the tool or the machine failing).
_CORRUPT_SIGNS = (
    "Invalid data found when processing input",
    "moov atom not found",
    "could not find codec parameters",
    "Invalid NAL unit size",
    "error reading header",
    "End of file",
)


#: What a tool says when the machine, not the input, stopped it: worth another attempt.
_TRANSIENT_SIGNS = (
    "No space left on device",
    "Cannot allocate memory",
    "Resource temporarily unavailable",
    "Too many open files",
)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive SIGKILL when the worker dies (Linux' parent-death
    signal), so a SIGKILLed worker leaves no FFmpeg running on. None where the call does not exist."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return preexec


_PREEXEC = _die_with_parent()


def stderr_tail(path: Path, limit: int = 2000) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run(
    args: Sequence[str],
    *,
    log_path: Path,
    cancelled: threading.Event | None = None,
    poll_seconds: float = 0.2,
) -> None:
    """Run ``args``; raise TaskCancelled (after killing it) if ``cancelled`` is set, a BadInputError or a
    WorkerError if it fails. stdout is discarded, stderr goes to ``log_path``."""
    tool = Path(args[0]).name
    with log_path.open("ab") as log:
        # Its own process group (a signal to the worker's group does not reach it twice) and the parent-death
        # signal (the worker's death does reach it).
        proc = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            preexec_fn=_PREEXEC,  # async-signal-safe: one prctl call
            process_group=0,
        )
        try:
            while True:
                try:
                    code = proc.wait(timeout=poll_seconds)
                    break
                except subprocess.TimeoutExpired:
                    if cancelled is not None and cancelled.is_set():
                        proc.kill()
                        proc.wait()
                        raise TaskCancelled(f"{tool} stopped: the task was cancelled") from None
        except BaseException:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            raise
    if code != 0:
        tail = stderr_tail(log_path)
        reason = last_line(tail) or f"exit status {code}"
        if any(sign in tail for sign in _CORRUPT_SIGNS):
            raise CorruptMediaError(f"the media cannot be decoded ({reason})")
        if code < 0 or any(sign in tail for sign in _TRANSIENT_SIGNS):
            # Killed by a signal (the OOM killer) or starved of a resource: another attempt may succeed.
            raise WorkerError(f"{tool} failed with exit status {code}: {reason}")
        # The same command on the same input fails the same way: retrying only delays the answer.
        raise ProcessingError(f"{tool} failed with exit status {code}: {reason}")
