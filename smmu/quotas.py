"""Per-tenant rate limits and quotas, counted in DynamoDB so every API replica sees the same numbers.

Counters are items of the usage table (hash key ``counter_id``), each for one tenant and one window, written
with a conditional ``ADD``: the write that would pass the limit is refused by DynamoDB itself, so two replicas
can never both take the last unit. Items carry a TTL and expire after their window.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class LimitExceeded(Exception):
    """A tenant reached a limit: ``limit`` names it, ``retry_after`` is whole seconds until it frees up."""

    def __init__(self, limit: str, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.retry_after = max(1, retry_after)


@dataclass(frozen=True)
class TenantLimits:
    requests_per_window: int
    window_seconds: int
    bytes_per_day: int
    active_jobs: int


class UsageStore:
    def __init__(self, table_name: str, client: "DynamoDBClient") -> None:
        self.table_name = table_name
        self._db = client

    def _take(self, counter_id: str, amount: int, limit: int, expires_at: int) -> bool:
        """Add ``amount`` to the counter unless the total would pass ``limit``; whether it was added."""
        if amount > limit:
            return False
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key={"counter_id": {"S": counter_id}},
                UpdateExpression="ADD used :n SET expires_at = :ttl",
                ConditionExpression="attribute_not_exists(used) OR used <= :room",
                ExpressionAttributeValues={
                    ":n": {"N": str(amount)},
                    ":room": {"N": str(limit - amount)},
                    ":ttl": {"N": str(expires_at)},
                },
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def hit(self, tenant_id: str, limits: TenantLimits, now: float | None = None) -> None:
        """Count one request in the tenant's current window; LimitExceeded when the window is full."""
        now = time.time() if now is None else now
        window = int(now // limits.window_seconds)
        window_end = (window + 1) * limits.window_seconds
        if not self._take(f"rate#{tenant_id}#{window}", 1, limits.requests_per_window, int(window_end) + 60):
            raise LimitExceeded(
                "requests_per_window",
                f"rate limit reached: at most {limits.requests_per_window} requests per "
                f"{limits.window_seconds} s for this tenant",
                retry_after=int(window_end - now + 0.999),
            )

    def reserve_bytes(self, tenant_id: str, size: int, limits: TenantLimits, now: datetime | None = None) -> None:
        """Count an upload's declared bytes against the tenant's daily quota (UTC days)."""
        now = now or datetime.now(UTC)
        day = now.strftime("%Y-%m-%d")
        tomorrow = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
        if not self._take(f"bytes#{tenant_id}#{day}", size, limits.bytes_per_day, int(tomorrow.timestamp()) + 3600):
            raise LimitExceeded(
                "bytes_per_day",
                f"daily upload quota reached: at most {limits.bytes_per_day} bytes a day for this tenant "
                f"(this upload declares {size})",
                retry_after=int((tomorrow - now).total_seconds() + 0.999),
            )
