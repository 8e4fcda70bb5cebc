"""A small reader of ``text/event-stream`` responses (the SSE wire format), for the event-stream tests."""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    id: str | None
    event: str
    data: dict[str, Any]


def events(response: httpx.Response, comments: list[str] | None = None) -> Iterator[Event]:
    """The events of a streamed response, as they arrive; comment lines go to ``comments``."""
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if data:
                yield Event(fields.get("id"), fields.get("event", "message"), json.loads("\n".join(data)))
            fields, data = {}, []
        elif line.startswith(":"):
            if comments is not None:
                comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            else:
                fields[name] = value


def read(
    client: httpx.Client,
    path: str,
    *,
    last_event_id: str | None = None,
    until: Callable[[Event], bool] | None = None,
    timeout: float = 60,
) -> list[Event]:
    """Open the stream at ``path`` and read it until it ends, or until an event satisfies ``until`` (then the
    connection is closed, as a client that goes away closes it)."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    got: list[Event] = []
    with client.stream("GET", path, headers=headers, timeout=httpx.Timeout(timeout)) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in events(response):
            got.append(event)
            if until is not None and until(event):
                break
    return got
