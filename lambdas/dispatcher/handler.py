"""Dispatcher: SQS jobs queue (S3 upload events) -> QUEUED job + Step Functions execution.

Reports partial batch failures, so one bad message is retried (and eventually dead-lettered) alone.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dispatcher.service import dispatch_upload, uploads_in
from lambdas.shared.context import logger

processor = BatchProcessor(event_type=EventType.SQS)


def handle_record(record: SQSRecord) -> None:
    for upload in uploads_in(record.body):
        dispatch_upload(upload["bucket"], upload["key"], upload["size"], upload["etag"])


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
