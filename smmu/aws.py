"""The one AWS client factory.

boto3 itself reads ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_<SERVICE>``), so the same code talks to the
embedded emulator, LocalStack or AWS; nothing here branches on the target.
"""

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from smmu.settings import get_settings

_lock = threading.Lock()
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=70,
    # Virtual-hosted addressing needs DNS for <bucket>.<host>; path style works on every target.
    s3={"addressing_style": "path"},
    signature_version="s3v4",
)


@cache
def client(service: str) -> Any:
    """A cached, thread-safe boto3 client (creating sessions is not thread-safe, using clients is)."""
    with _lock:
        return boto3.session.Session().client(service, region_name=get_settings().region, config=CLIENT_CONFIG)
