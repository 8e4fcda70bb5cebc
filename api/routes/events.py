"""Live job events as Server-Sent Events (docs/events.md): one job's, and every job's of the caller's tenant.

The streams read the events stored in the job records (``smmu.events``), so any replica serves any client and a
client that reconnects with ``Last-Event-ID`` resumes where it was, on whichever replica it reaches.
"""

import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, status
from fastapi.sse import EventSourceResponse, ServerSentEvent

from api.deps import CallerDep, JobsDep, SettingsDep
from smmu.events import (
    StreamLimits,
    TenantCursor,
    WireEvent,
    job_stream,
    parse_job_cursor,
    tenant_stream,
)
from smmu.jobs import now_iso

router = APIRouter(tags=["events"])

_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A `text/event-stream`: events `status`, `step` and `progress`, each with an `id` to resume "
        "from (`Last-Event-ID`), and `: ping` comments every 15 s",
        "content": {"text/event-stream": {}},
    },
    400: {"description": "A Last-Event-ID this stream did not send"},
    401: {"description": "No credential, or one that is not valid"},
    429: {"description": "Too many open streams for this API key"},
}


class _OpenStreams:
    """Streams held open per API key on this replica: each holds a connection and polls the table."""

    def __init__(self) -> None:
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def acquire(self, key: str, limit: int) -> bool:
        with self._lock:
            if self._open[key] >= limit:
                return False
            self._open[key] += 1
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._open[key] -= 1
            if self._open[key] <= 0:
                del self._open[key]


OPEN_STREAMS = _OpenStreams()


def stream_slot(caller: CallerDep, settings: SettingsDep) -> Iterator[None]:
    """A slot among the caller's open streams, held until the stream ends (the dependency's exit runs then)."""
    key = f"{caller.method}:{caller.subject}"
    if not OPEN_STREAMS.acquire(key, settings.events_max_streams_per_key):
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"at most {settings.events_max_streams_per_key} event streams may be open per API key; close one",
            headers={"Retry-After": "5"},
        )
    try:
        yield
    finally:
        OPEN_STREAMS.release(key)


SlotDep = Annotated[None, Depends(stream_slot)]
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID", max_length=256)]


def _limits(settings: SettingsDep) -> StreamLimits:
    return StreamLimits(
        poll_seconds=settings.events_poll_seconds,
        max_seconds=settings.events_max_stream_seconds,
        lag_seconds=settings.events_lag_seconds,
    )


def _sse(event: WireEvent) -> ServerSentEvent:
    return ServerSentEvent(id=event.id, event=event.kind.value, data=event.data)


def job_cursor(job_id: uuid.UUID, jobs: JobsDep, caller: CallerDep, last_event_id: LastEventId = None) -> int:
    """Where the caller's stream of this job starts. Checked before the stream starts, so a refusal is a plain
    status code; another tenant's job answers as a missing one does."""
    job = jobs.get(str(job_id))
    if job is None or job.tenant_id != caller.tenant_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job with id {job_id}")
    try:
        return parse_job_cursor(last_event_id)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc


def tenant_cursor(last_event_id: LastEventId = None) -> TenantCursor:
    try:
        return TenantCursor.decode(last_event_id) if last_event_id else TenantCursor.starting(now_iso())
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc


@router.get(
    "/v1/jobs/{job_id}/events",
    response_class=EventSourceResponse,
    responses={**_STREAM_RESPONSES, 404: {"description": "No such job"}},
)
async def job_events(
    job_id: uuid.UUID,
    after: Annotated[int, Depends(job_cursor)],
    jobs: JobsDep,
    settings: SettingsDep,
    _slot: SlotDep,
) -> AsyncIterator[ServerSentEvent]:
    """The job's events from the start (or after `Last-Event-ID`), then live; the stream ends once the job has
    reached a terminal status and its events are sent, or after the longest a stream stays open."""
    async for event in job_stream(jobs, str(job_id), after, _limits(settings)):
        yield _sse(event)


@router.get("/v1/events", response_class=EventSourceResponse, responses=_STREAM_RESPONSES)
async def tenant_events(
    after: Annotated[TenantCursor, Depends(tenant_cursor)],
    jobs: JobsDep,
    settings: SettingsDep,
    caller: CallerDep,
    _slot: SlotDep,
) -> AsyncIterator[ServerSentEvent]:
    """Events of all the caller's jobs from now on (or after `Last-Event-ID`), in order, until the longest a
    stream stays open."""
    async for event in tenant_stream(jobs, caller.tenant_id, after, _limits(settings)):
        yield _sse(event)
