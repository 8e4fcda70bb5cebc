"""Dispatcher: SQS jobs queue (S3 upload events) -> QUEUED job + Step Functions execution.

Each record is parsed into its contract (an SQS record whose body is an S3 notification) by Powertools' batch
processor. It reports partial batch failures, so one bad message is retried (and eventually dead-lettered) alone.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.dispatcher.service import dispatch_upload
from lambdas.shared.context import logger
from smmu.contracts import UploadEventRecord

processor = BatchProcessor(event_type=EventType.SQS, model=UploadEventRecord)


def handle_record(record: UploadEventRecord) -> None:
    for upload in record.uploads():
        dispatch_upload(upload)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
