"""Job events as clients read them (docs/events.md): the per-job and tenant-wide streams, their cursors and
order, and the throttle that keeps the workers' progress reports few.

The events themselves are kept in each job's record (``Job.events``), appended by the same conditional write
as the change they report (``smmu.repository``). So every API replica reads the same log: a stream is a poll
of stored state, never a message held in one process's memory.

- Per job: an event's id is its position in the job's log, exact and gap-free; the stream ends after the
  job's terminal status.
- Per tenant: events of every job of the tenant ordered by (time, job id, position). Time is the writer's clock
  made monotonic per job; an event is sent only once it is ``lag`` old, so a write that commits a little after
  its timestamp (or reaches the index a little late) is not overtaken by a later one and skipped.
"""

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from smmu.jobs import TERMINAL_STATUSES, EventKind, Job, JobEvent, dump, isoformat, utcnow
from smmu.ports import JobStore

#: A tenant-wide poll looks this much further back than its cursor for changed jobs: the writers' clocks may
#: disagree by a little, and the cursor filters out what was already sent.
_OVERLAP = timedelta(seconds=5)
_MAX_CURSOR = 200


@dataclass(frozen=True)
class WireEvent:
    """One Server-Sent Event: ``id``, ``event`` (its kind) and ``data`` (JSON)."""

    id: str
    kind: EventKind
    data: dict[str, Any]


def wire_data(job_id: str, event: JobEvent) -> dict[str, Any]:
    data: dict[str, Any] = {"job_id": job_id, "at": event.at}
    match event.kind:
        case EventKind.STATUS:
            data["status"] = event.status.value if event.status else None
            if event.error is not None:
                data["error"] = dump(event.error)
        case EventKind.STEP:
            data.update(step=event.step, outcome=event.outcome)
            if event.duration_ms is not None:
                data["duration_ms"] = event.duration_ms
            if event.detail is not None:
                data["detail"] = event.detail
        case EventKind.PROGRESS:
            data["progress"] = dump(event.progress) if event.progress else None
    return data


# -- one job --------------------------------------------------------------------------------------------------
def parse_job_cursor(last_event_id: str | None) -> int:
    """The position after which a per-job stream resumes; -1 (from the start) without one. ValueError for
    anything but an id this stream sent."""
    if last_event_id is None or last_event_id == "":
        return -1
    if not last_event_id.isdigit() or len(last_event_id) > 9:
        raise ValueError("Last-Event-ID is not an event id of this job's stream")
    return int(last_event_id)


def job_events_after(job: Job, after: int) -> list[WireEvent]:
    return [
        WireEvent(id=str(index), kind=event.kind, data=wire_data(job.job_id, event))
        for index, event in enumerate(job.events)
        if index > after
    ]


# -- a tenant's jobs ------------------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class TenantCursor:
    at: str
    job_id: str
    index: int

    def encode(self) -> str:
        return f"{self.at}~{self.job_id}~{self.index}"

    @classmethod
    def decode(cls, text: str) -> "TenantCursor":
        refused = ValueError("Last-Event-ID is not an event id of this stream")
        parts = text.split("~")
        if len(text) > _MAX_CURSOR or len(parts) != 3 or not parts[2].isdigit() or len(parts[2]) > 9:
            raise refused
        try:
            datetime.fromisoformat(parts[0])
        except ValueError as exc:
            raise refused from exc
        return cls(parts[0], parts[1], int(parts[2]))

    @classmethod
    def starting(cls, at: str) -> "TenantCursor":
        """Before every event at or after ``at``."""
        return cls(at, "", -1)


def positions(job: Job) -> list[tuple[TenantCursor, JobEvent]]:
    """The job's events with their tenant-stream positions; times made monotonic within the job, so a writer
    whose clock is a little behind never puts an event before one already sent."""
    placed = []
    latest = ""
    for index, event in enumerate(job.events):
        latest = max(latest, event.at)
        placed.append((TenantCursor(latest, job.job_id, index), event))
    return placed


def tenant_events_after(jobs: list[Job], after: TenantCursor, horizon: str) -> list[tuple[TenantCursor, WireEvent]]:
    """The events of ``jobs`` after ``after`` and no later than ``horizon``, in stream order."""
    found = [
        (position, event)
        for job in jobs
        for position, event in positions(job)
        if after < position and position.at <= horizon
    ]
    found.sort(key=lambda pair: pair[0])
    return [
        (position, WireEvent(id=position.encode(), kind=event.kind, data=wire_data(position.job_id, event)))
        for position, event in found
    ]


def since_for(cursor: TenantCursor) -> str:
    return isoformat(datetime.fromisoformat(cursor.at) - _OVERLAP)


# -- the streams ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StreamLimits:
    poll_seconds: float
    max_seconds: float
    #: Tenant stream: how old an event must be before it is sent (see the module's docstring).
    lag_seconds: float = 1.0


Sleep = Callable[[float], Awaitable[None]]


async def job_stream(
    jobs: JobStore,
    job_id: str,
    after: int,
    limits: StreamLimits,
    *,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[WireEvent]:
    """The job's events after position ``after``, then new ones as they are stored, until the job has reached a
    terminal status (its events sent), it is gone, or ``limits.max_seconds`` have passed."""
    deadline = clock() + limits.max_seconds
    while True:
        job = await asyncio.to_thread(jobs.get, job_id)
        if job is None:
            return
        for event in job_events_after(job, after):
            yield event
            after = int(event.id)
        if job.status in TERMINAL_STATUSES or clock() >= deadline:
            return
        await sleep(limits.poll_seconds)


async def tenant_stream(
    jobs: JobStore,
    tenant_id: str,
    after: TenantCursor,
    limits: StreamLimits,
    *,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = utcnow,
) -> AsyncIterator[WireEvent]:
    """Events of the tenant's jobs after ``after``, in order, until ``limits.max_seconds`` have passed."""
    deadline = clock() + limits.max_seconds
    while True:
        horizon = isoformat(now() - timedelta(seconds=limits.lag_seconds))
        changed = await asyncio.to_thread(jobs.changed_since, tenant_id, since_for(after))
        loaded = [job for job in await asyncio.to_thread(_load, jobs, changed) if job.tenant_id == tenant_id]
        for position, event in tenant_events_after(loaded, after, horizon):
            yield event
            after = position
        if clock() >= deadline:
            return
        await sleep(limits.poll_seconds)


def _load(jobs: JobStore, job_ids: list[str]) -> list[Job]:
    return [job for job in (jobs.get(job_id) for job_id in job_ids) if job is not None]


# -- progress -------------------------------------------------------------------------------------------------
class ProgressThrottle:
    """Passes a stage's progress on to ``report`` in whole steps (5 %, 10 %, …) and at most every
    ``min_interval`` seconds, except 100 %, which always goes through. Never raises: progress is for people,
    and failing to report it must not fail the work."""

    def __init__(
        self,
        report: Callable[[float], object],
        *,
        min_interval: float = 2.0,
        step: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self._report = report
        self._min_interval = min_interval
        self._step = step
        self._clock = clock
        self._on_error = on_error
        self._last = 0.0
        self._last_at: float | None = None

    def __call__(self, percent: float) -> None:
        if not math.isfinite(percent):
            return
        bucket = min(100.0, math.floor(max(0.0, percent) / self._step) * self._step)
        if bucket <= self._last:
            return
        now = self._clock()
        if bucket < 100 and self._last_at is not None and now - self._last_at < self._min_interval:
            return
        self._last, self._last_at = bucket, now
        try:
            self._report(bucket)
        except Exception as exc:
            if self._on_error is not None:
                self._on_error(exc)
