"""API keys and per-tenant counters against the emulated DynamoDB."""

from datetime import UTC, datetime

import pytest

from smmu.quotas import LimitExceeded, TenantLimits, UsageStore
from smmu.tenants import ApiKeyStore, parse_token

pytestmark = pytest.mark.integration
LIMITS = TenantLimits(requests_per_window=3, window_seconds=10, bytes_per_day=1000, active_jobs=2)


@pytest.fixture
def keys(provisioned, aws) -> ApiKeyStore:
    return ApiKeyStore(provisioned.environment["SMMU_API_KEYS_TABLE"], aws("dynamodb"))


@pytest.fixture
def usage(provisioned, aws) -> UsageStore:
    return UsageStore(provisioned.environment["SMMU_USAGE_TABLE"], aws("dynamodb"))


def test_a_key_authenticates_its_tenant_until_revoked(keys, aws, provisioned):
    token, record = keys.create("acme", name="ci")
    assert keys.authenticate(token).tenant_id == "acme"
    key_id, secret = parse_token(token)
    stored = aws("dynamodb").get_item(
        TableName=provisioned.environment["SMMU_API_KEYS_TABLE"], Key={"key_id": {"S": key_id}}
    )["Item"]
    assert secret not in str(stored) and token not in str(stored)  # only the hash is kept
    assert keys.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert record.key_id in [k.key_id for k in keys.list("acme")]
    assert keys.revoke(record.key_id)
    assert keys.authenticate(token) is None
    assert not keys.revoke("nosuchkey000")


@pytest.mark.parametrize("tenant", ["", "Upper", "../x", "a" * 64, "-lead"])
def test_tenant_ids_are_slugs(keys, tenant):
    with pytest.raises(ValueError, match="tenant id"):
        keys.create(tenant)


def test_the_request_window_admits_exactly_its_limit(usage):
    now = 1_000_000.0
    for _ in range(3):
        usage.hit("rate-t", LIMITS, now=now)
    with pytest.raises(LimitExceeded) as refused:
        usage.hit("rate-t", LIMITS, now=now + 4)
    assert refused.value.limit == "requests_per_window" and refused.value.retry_after == 6
    usage.hit("rate-t", LIMITS, now=now + 10)  # the next window
    usage.hit("rate-u", LIMITS, now=now)  # another tenant


def test_daily_bytes_are_counted_per_utc_day(usage):
    day = datetime(2026, 6, 1, 23, 0, tzinfo=UTC)
    usage.reserve_bytes("bytes-t", 600, LIMITS, now=day)
    with pytest.raises(LimitExceeded) as refused:
        usage.reserve_bytes("bytes-t", 401, LIMITS, now=day)
    assert refused.value.limit == "bytes_per_day" and refused.value.retry_after == 3600
    usage.reserve_bytes("bytes-t", 400, LIMITS, now=day)  # exactly the limit
    usage.reserve_bytes("bytes-t", 1000, LIMITS, now=datetime(2026, 6, 2, 0, 1, tzinfo=UTC))
