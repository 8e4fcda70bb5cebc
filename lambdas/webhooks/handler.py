"""Webhooks: the webhooks queue -> job events fanned out to the tenant's endpoints, and delivery attempts sent.

Two kinds of message share the queue (``smmu.webhooks.WebhookMessage``): a ``JobEvent`` (published by whoever
changed a job's status) and a ``DeliveryTask`` (one attempt of one delivery; retries come back delayed). Partial
batch failures are reported, so a message whose handling crashed is retried alone and, after the queue's
``max_receive_count``, dead-lettered.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from lambdas.shared.context import logger
from lambdas.webhooks.service import deliver, fan_out
from smmu.webhooks import JobEvent, WebhookMessage


class WebhookRecord(SqsRecordModel):
    body: Json[WebhookMessage]


processor = BatchProcessor(event_type=EventType.SQS, model=WebhookRecord)


def handle_record(record: WebhookRecord) -> None:
    message = record.body
    if isinstance(message, JobEvent):
        queued = fan_out(message)
        logger.info("job event fanned out", event_id=message.event_id, type=message.type, deliveries=queued)
    else:
        deliver(message)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
