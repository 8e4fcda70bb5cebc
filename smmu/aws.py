"""The one AWS client factory.

boto3 itself reads ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_<SERVICE>``), so the same code talks to the
embedded emulator, LocalStack or AWS; nothing here branches on the target.
"""

import threading
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config

from smmu.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

_lock = threading.Lock()
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=70,
    # Virtual-hosted addressing needs DNS for <bucket>.<host>; path style works on every target.
    s3={"addressing_style": "path"},
    signature_version="s3v4",
)


@overload
def client(service: Literal["dynamodb"]) -> "DynamoDBClient": ...
@overload
def client(service: Literal["s3"]) -> "S3Client": ...
@overload
def client(service: Literal["sqs"]) -> "SQSClient": ...
@overload
def client(service: Literal["stepfunctions"]) -> "SFNClient": ...
@overload
def client(service: Literal["events"]) -> Any: ...  # EventBridge (untyped: its stubs are not installed)
def client(service: str) -> Any:
    """A cached, thread-safe boto3 client (creating sessions is not thread-safe, using clients is)."""
    return _client(service)


@cache
def _client(service: str) -> Any:
    with _lock:
        session: Any = boto3.session.Session()  # Any: the service is named at run time (see the overloads)
        return session.client(service, region_name=get_settings().region, config=CLIENT_CONFIG)
