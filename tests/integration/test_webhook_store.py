"""The delivery records' conditional writes on the emulated table: what makes each event send once."""

import pytest

from smmu.jobs import now_iso
from smmu.webhook_store import DeliveryRepository
from smmu.webhooks import Delivery, DeliveryAttempt, delivery_id, event_id

pytestmark = pytest.mark.integration


@pytest.fixture
def deliveries(provisioned, aws) -> DeliveryRepository:
    return DeliveryRepository(provisioned.environment["SMMU_WEBHOOK_DELIVERIES_TABLE"], aws("dynamodb"))


def _delivery(webhook_id: str, job_id: str) -> Delivery:
    event = event_id(job_id, "COMPLETED", 1)
    now = now_iso()
    return Delivery(
        delivery_id=delivery_id(webhook_id, event),
        webhook_id=webhook_id,
        tenant_id="t",
        event_id=event,
        event_type="job.completed",
        job_id=job_id,
        job_status="COMPLETED",
        created_at=now,
        updated_at=now,
    )


def test_a_delivery_is_created_once_and_each_attempt_claimed_once(deliveries):
    delivery = _delivery("wh_store_1", "job-1")
    assert deliveries.create(delivery)
    assert not deliveries.create(delivery.model_copy(update={"created_at": now_iso()}))  # the event, again
    assert deliveries.claim(delivery.delivery_id, 1)
    assert not deliveries.claim(delivery.delivery_id, 1)  # the same attempt's message, received twice
    assert not deliveries.claim(delivery.delivery_id, 3)  # out of order
    deliveries.record(
        delivery.delivery_id,
        DeliveryAttempt(attempt=1, at=now_iso(), duration_ms=3, status_code=500),
        None,
        "2030-01-01T00:00:00.000Z",
    )
    assert deliveries.claim(delivery.delivery_id, 2)
    deliveries.record(
        delivery.delivery_id, DeliveryAttempt(attempt=2, at=now_iso(), duration_ms=2, status_code=204), "delivered"
    )
    stored = deliveries.get(delivery.delivery_id)
    assert stored.state == "delivered" and stored.attempts == 2 and stored.next_attempt_at is None
    assert [a.status_code for a in stored.attempt_log] == [500, 204]
    assert not deliveries.claim(delivery.delivery_id, 3)  # ended


def test_deliveries_are_listed_newest_first_a_page_at_a_time(deliveries):
    for n in range(3):
        assert deliveries.create(_delivery("wh_store_2", f"job-{n}"))
    first, cursor = deliveries.list("wh_store_2", limit=2)
    second, last = deliveries.list("wh_store_2", limit=2, cursor=cursor)
    assert [d.job_id for d in first + second] == ["job-2", "job-1", "job-0"]
    assert last is None or deliveries.list("wh_store_2", cursor=last)[0] == []
    with pytest.raises(ValueError, match="cursor"):
        deliveries.list("wh_other", cursor=cursor)  # another endpoint's cursor


def test_a_jobs_deliveries_are_removed_in_batches_and_no_others(deliveries):
    for n in range(27):  # more than one BatchWriteItem (25)
        assert deliveries.create(_delivery(f"wh_store_3_{n}", "job-erased"))
    kept = _delivery("wh_store_3_0", "job-kept")
    assert deliveries.create(kept)
    assert deliveries.delete_for_job("job-erased") == 27
    assert deliveries.delete_for_job("job-erased") == 0
    assert deliveries.get(delivery_id("wh_store_3_5", event_id("job-erased", "COMPLETED", 1))) is None
    assert deliveries.get(kept.delivery_id) == kept


def test_an_attempt_that_ends_after_its_delivery_was_removed_writes_nothing(deliveries):
    delivery = _delivery("wh_store_4", "job-deleted-meanwhile")
    assert deliveries.create(delivery)
    assert deliveries.claim(delivery.delivery_id, 1)
    deliveries.delete(delivery.delivery_id)  # the job's deletion swept it while the request was out
    attempt = DeliveryAttempt(attempt=1, at=now_iso(), duration_ms=3, status_code=204)
    assert not deliveries.record(delivery.delivery_id, attempt, "delivered")
    # An unconditional update would have created a record without a job id: nothing could find or remove it.
    assert deliveries.get(delivery.delivery_id) is None
