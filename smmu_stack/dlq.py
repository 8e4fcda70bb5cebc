"""Dead-letter queues: list them, look at what is in them, send it back (``smmu dlq list|show|redrive``).

A queue is a DLQ when another queue's RedrivePolicy names it; that queue is where a redrive sends messages back.
Redrive uses SQS's own message-move task where the service has it (AWS, LocalStack); elsewhere (moto) it moves
messages itself: receive, send to the source, delete only what was sent — a message is never lost, and at worst
(a crash between send and delete) delivered twice, which every consumer here tolerates (executions are named
after the job, task tokens answer once).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

log = logging.getLogger("smmu.dlq")


@dataclass(frozen=True)
class DeadLetterQueue:
    name: str
    url: str
    arn: str
    #: The queues whose RedrivePolicy names this one (a redrive sends messages back to the first).
    sources: tuple[tuple[str, str], ...]  # (name, arn)
    messages: int
    in_flight: int


def _name(url_or_arn: str) -> str:
    return url_or_arn.rstrip("/").replace(":", "/").rsplit("/", 1)[-1]


def dead_letter_queues(sqs: Any) -> list[DeadLetterQueue]:
    urls = [url for page in sqs.get_paginator("list_queues").paginate() for url in page.get("QueueUrls", [])]
    attributes = {url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"] for url in urls}
    sources: dict[str, list[tuple[str, str]]] = {}
    for url, attrs in attributes.items():
        policy = attrs.get("RedrivePolicy")
        if policy:
            target = json.loads(policy)["deadLetterTargetArn"]
            sources.setdefault(target, []).append((_name(url), attrs["QueueArn"]))
    queues = []
    for url, attrs in attributes.items():
        arn = attrs["QueueArn"]
        if arn in sources:
            queues.append(
                DeadLetterQueue(
                    name=_name(url),
                    url=url,
                    arn=arn,
                    sources=tuple(sorted(sources[arn])),
                    messages=int(attrs.get("ApproximateNumberOfMessages", 0)),
                    in_flight=int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
                )
            )
    return sorted(queues, key=lambda q: q.name)


def find(sqs: Any, name: str) -> DeadLetterQueue:
    for queue in dead_letter_queues(sqs):
        if name in (queue.name, queue.url, queue.arn):
            return queue
    known = ", ".join(q.name for q in dead_letter_queues(sqs)) or "none"
    raise LookupError(f"{name!r} is not a dead-letter queue (known: {known})")


def peek(sqs: Any, queue: DeadLetterQueue, limit: int = 10) -> list[dict[str, Any]]:
    """Up to ``limit`` messages, left in the queue (received with visibility 0: nothing is hidden or deleted)."""
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(max(3, limit // 10 + 3)):  # SQS samples servers: a few rounds find more of a small queue
        if len(seen) >= limit:
            break
        messages = sqs.receive_message(
            QueueUrl=queue.url,
            MaxNumberOfMessages=min(10, limit),
            VisibilityTimeout=0,
            MessageSystemAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            seen.setdefault(message["MessageId"], describe(message))
    return list(seen.values())[:limit]


def describe(message: dict[str, Any]) -> dict[str, Any]:
    """What a person needs to know about a dead message: when, how often tried, and for which job."""
    attributes = message.get("Attributes", {})
    sent = attributes.get("SentTimestamp")
    body: Any = message["Body"]
    with contextlib.suppress(ValueError):
        body = json.loads(body)
    about: dict[str, Any] = {}
    if isinstance(body, dict):
        if body.get("job_id"):
            about["job_id"] = body["job_id"]
        for record in body.get("Records", []) if isinstance(body.get("Records"), list) else []:
            s3 = record.get("s3", {})
            about["object"] = f"s3://{s3.get('bucket', {}).get('name')}/{s3.get('object', {}).get('key')}"
    return {
        "message_id": message["MessageId"],
        "sent_at": datetime.fromtimestamp(int(sent) / 1000, UTC).isoformat() if sent else None,
        "receive_count": int(attributes.get("ApproximateReceiveCount", 0)),
        **about,
        "body": body,
    }


def redrive(
    sqs: Any, queue: DeadLetterQueue, destination: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    """Send the DLQ's messages back to their source queue (or ``destination``, a queue name or URL)."""
    if not queue.sources and destination is None:
        raise LookupError(f"{queue.name} has no source queue; name a destination")
    target_name = destination or queue.sources[0][0]
    target_url = target_name if target_name.startswith("http") else sqs.get_queue_url(QueueName=target_name)["QueueUrl"]
    target_arn = sqs.get_queue_attributes(QueueUrl=target_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    if limit is None:
        try:
            task = _once(sqs).start_message_move_task(SourceArn=queue.arn, DestinationArn=target_arn)
            return {"method": "message-move-task", "task": task.get("TaskHandle"), "destination": _name(target_url)}
        except ClientError as exc:
            # Not every SQS has move tasks (moto answers 500 for the unknown action); moving one by one is correct
            # everywhere, only slower.
            log.info("no message-move task (%s); moving messages one by one", exc.response.get("Error", {}))
    moved = _move(sqs, queue.url, target_url, limit)
    return {"method": "receive-send-delete", "moved": moved, "destination": _name(target_url)}


def _once(sqs: Any) -> Any:
    """The same client without retries: an SQS without move tasks answers 500, which is not worth retrying."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=sqs.meta.region_name)
    config = Config(retries={"total_max_attempts": 1})
    return session.client("sqs", endpoint_url=sqs.meta.endpoint_url, config=config)


def _move(sqs: Any, source_url: str, target_url: str, limit: int | None) -> int:
    moved = 0
    empty_rounds = 0
    while (limit is None or moved < limit) and empty_rounds < 2:
        batch = sqs.receive_message(
            QueueUrl=source_url,
            MaxNumberOfMessages=min(10, limit - moved) if limit is not None else 10,
            VisibilityTimeout=60,
            MessageAttributeNames=["All"],
            WaitTimeSeconds=1,
        ).get("Messages", [])
        if not batch:
            empty_rounds += 1
            continue
        empty_rounds = 0
        entries = []
        for index, message in enumerate(batch):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        sent = sqs.send_message_batch(QueueUrl=target_url, Entries=entries)
        done = [batch[int(entry["Id"])] for entry in sent.get("Successful", [])]
        for failure in sent.get("Failed", []):
            log.warning("could not send message back: %s", failure.get("Message"))
        if done:
            sqs.delete_message_batch(
                QueueUrl=source_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        # Messages that could not be sent become visible again in the DLQ when their visibility lapses.
        moved += len(done)
        if not done:
            break
    return moved


class DeadLetterWatch:
    """Logs a clear line whenever a dead-letter queue receives messages (the local stacks' stand-in for the
    CloudWatch alarms that exist on AWS)."""

    def __init__(self, sqs: Any, interval: float = 5.0) -> None:
        self.sqs = sqs
        self.interval = interval
        self._stopping = threading.Event()
        self._counts: dict[str, int] = {}

    def check(self) -> list[str]:
        lines = []
        for queue in dead_letter_queues(self.sqs):
            total = queue.messages + queue.in_flight
            before = self._counts.get(queue.arn, 0)
            self._counts[queue.arn] = total
            if total > before:
                sources = ", ".join(name for name, _ in queue.sources)
                line = (
                    f"dead-letter queue {queue.name} received {total - before} message(s) from {sources} "
                    f"({total} waiting): inspect with `smmu dlq show {queue.name}`, "
                    f"send back with `smmu dlq redrive {queue.name}`"
                )
                log.warning(line)
                lines.append(line)
        return lines

    def start(self) -> None:
        def run() -> None:
            while not self._stopping.wait(self.interval):
                try:
                    self.check()
                except Exception:
                    log.debug("could not read the dead-letter queues", exc_info=True)

        threading.Thread(target=run, name="dlq-watch", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
