"""SQS -> Lambda event source mappings for the embedded cloud, with Lambda's semantics.

moto invokes a mapped function inside ``SendMessage`` itself, one message at a time, and ignores
``batchItemFailures``. These pollers replace that: they read the mappings the provisioner created, long-poll the
queue, invoke the function with a batch, delete what succeeded, leave reported failures (or the whole batch, if
the function errored) to reappear after the visibility timeout, so the queue's redrive policy moves a message
that keeps failing to its dead-letter queue.
"""

import json
import logging
import threading
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger("smmu.event_sources")


def _records(messages: list["MessageTypeDef"], queue_arn: str, region: str) -> list[dict[str, Any]]:
    return [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": m.get("MessageAttributes", {}),
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }
        for m in messages
    ]


class SqsEventSource:
    def __init__(self, mapping: dict[str, Any], endpoint_url: str, region: str, pollers: int = 2) -> None:
        self.mapping = mapping
        self.region = region
        config = Config(retries={"mode": "standard"}, read_timeout=120)
        session = boto3.session.Session(region_name=region)
        self.sqs = session.client("sqs", endpoint_url=endpoint_url, config=config)
        self.awslambda = session.client("lambda", endpoint_url=endpoint_url, config=config)
        self.queue_arn = mapping["EventSourceArn"]
        self.queue_url = self.sqs.get_queue_url(QueueName=self.queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
        self.batch_size = min(int(mapping.get("BatchSize") or 10), 10)
        self.partial = "ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or [])
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"esm-{mapping['UUID'][:8]}-{i}", daemon=True)
            for i in range(pollers)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(wait_seconds=1)
            except Exception:
                if not self._stop.is_set():
                    log.exception("event source %s: poll failed", self.mapping["UUID"])
                    self._stop.wait(1)

    def poll_once(self, wait_seconds: int = 1) -> int:
        """Receive one batch and deliver it; returns the number of messages delivered."""
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = received.get("Messages", [])
        if not messages:
            return 0
        response = self.awslambda.invoke(
            FunctionName=self.mapping["FunctionArn"],
            Payload=json.dumps({"Records": _records(messages, self.queue_arn, self.region)}).encode(),
        )
        body = response["Payload"].read()
        if response.get("FunctionError"):
            log.warning("function failed on a batch of %d; it will be redelivered: %s", len(messages), body[:500])
            return len(messages)
        failed = self._failed_ids(body, {m["MessageId"] for m in messages})
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        if failed:
            log.info("%d of %d messages reported as failed; left for redelivery", len(failed), len(messages))
        return len(messages)

    def _failed_ids(self, body: bytes, batch_ids: set[str]) -> set[str]:
        if not self.partial or not body:
            return set()
        try:
            result = json.loads(body)
        except json.JSONDecodeError:
            return set()
        if not isinstance(result, dict):
            return set()
        failures = result.get("batchItemFailures") or []
        ids = {str(f.get("itemIdentifier") or "") for f in failures if isinstance(f, dict)}
        # As on AWS: an empty or unknown identifier fails the whole batch.
        if any(i not in batch_ids for i in ids):
            return batch_ids
        return ids
