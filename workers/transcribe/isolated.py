"""Whisper in a child process, so that a cancelled task stops within a fraction of a second.

A Whisper backend decodes a 30 s window in one call into native code (CTranslate2 or PyTorch) that no Python
thread can interrupt: checked between segments, a cancel waited for the window in progress — 18 s (p50) on a
loaded 2-core machine, where FFmpeg stops in about one. Here the model lives in a child process that the worker
talks to over a pipe; a cancel kills the child (SIGKILL: nothing to clean up, its only state is the model) and
the next task starts a fresh one, paying one model load (about a second for ``base``).

The child is started with ``spawn`` (not ``fork``): the worker has threads (heartbeat, cancel watch), and a
forked copy of a threaded process may hold a lock no thread will ever release. A child that dies (the kernel's
OOM killer, a native crash) fails the task as a ``WorkerError``, which the state machine retries, and is replaced.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

import numpy as np

from workers.errors import TaskCancelled, WorkerError
from workers.transcribe.engine import BACKENDS, Backend, ChunkResult
from workers.transcribe.settings import TranscribeSettings

#: How often a waiting transcription looks at the cancel flag (and whether the child is still alive).
POLL_SECONDS = 0.1


class IsolatedBackend:
    """A ``Backend`` whose model runs in a child process that a cancel kills (see the module's docstring)."""

    def __init__(self, backend: str, model: str, settings: TranscribeSettings) -> None:
        self.name = backend
        self.model_name = model
        self.settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        # One transcription at a time per child: the worker runs one task at a time, but be sure.
        self._lock = threading.Lock()
        # Loaded now: a model that cannot load fails the worker at start-up, not its first task.
        self._start()

    def _start(self) -> None:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=serve, args=(child, self.name, self.model_name, self.settings), name="whisper", daemon=True
        )
        process.start()
        child.close()
        self._process, self._connection = process, parent
        try:
            kind, payload = parent.recv()
        except EOFError:
            process.join(5)
            kind, payload = "error", f"exited with code {process.exitcode} while loading the model"
        if kind != "ready":
            self.close()
            raise WorkerError(f"the Whisper process could not load {self.model_name}: {payload}")

    def close(self) -> None:
        """Stop the child (a cancel, a shutdown); the next transcription starts a new one."""
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if connection is not None:
            connection.close()
        if process is not None and process.is_alive():
            process.kill()
            process.join(5)

    def _died(self, process: BaseProcess) -> WorkerError:
        process.join(5)
        self.close()
        return WorkerError(f"the Whisper process died (exit code {process.exitcode})")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def transcribe(
        self,
        samples: np.ndarray,
        cancelled: threading.Event,
        language: str | None = None,
        on_segment: Callable[[float], None] | None = None,
    ) -> ChunkResult:
        with self._lock:
            if cancelled.is_set():
                raise TaskCancelled("transcription cancelled")
            if self._process is None:
                self._start()
            process, connection = self._process, self._connection
            assert process is not None and connection is not None
            connection.send(("transcribe", samples, language, on_segment is not None))
            while True:
                if cancelled.is_set():
                    self.close()
                    raise TaskCancelled("transcription cancelled: the Whisper process was stopped")
                if not connection.poll(POLL_SECONDS):
                    if not process.is_alive():
                        raise self._died(process)
                    continue
                try:
                    kind, payload = connection.recv()
                except EOFError:
                    raise self._died(process) from None
                if kind == "segment" and on_segment is not None:
                    on_segment(payload)
                elif kind == "done":
                    result: ChunkResult = payload
                    return result
                elif kind == "error":
                    # The backend's own exception, as it would have been raised in process (so a deterministic
                    # error is still not retried); the child caught it and stays for the next task.
                    raise payload


def serve(connection: Connection, backend_name: str, model: str, settings: TranscribeSettings) -> None:
    """The child: load the model once, then transcribe what the pipe brings until it closes."""
    try:
        backend: Backend = BACKENDS[backend_name](model, settings)
    except Exception as exc:  # reported to the parent, which fails loudly with it
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    connection.send(("ready", None))
    never = threading.Event()  # the parent kills this process to cancel
    while True:
        try:
            _, samples, language, wants_segments = connection.recv()
        except (EOFError, OSError):
            return  # the worker closed the pipe (or died): nothing more to do
        report: Callable[[float], None] | None = None
        if wants_segments:
            report = _segment_reporter(connection)
        try:
            result = backend.transcribe(samples, never, language, report)
        except Exception as exc:
            try:
                connection.send(("error", exc))
            except Exception:  # an exception that does not pickle: its words are enough
                connection.send(("error", WorkerError(f"{type(exc).__name__}: {exc}")))
        else:
            connection.send(("done", result))


def _segment_reporter(connection: Connection) -> Callable[[float], None]:
    def report(end: float) -> None:
        connection.send(("segment", float(end)))

    return report
