"""Webhooks' pure parts: the SSRF guard, Standard Webhooks signing, event and delivery ids."""

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from standardwebhooks import Webhook, WebhookVerificationError

from lambdas.webhooks.sender import pinned_url
from smmu.fakes import InMemoryJobStore
from smmu.jobs import EventKind, JobStatus
from smmu.notifications import ProgressNotifier
from smmu.ssrf import UnsafeUrlError, check_url, parse_networks
from smmu.webhooks import (
    JobEvent,
    check_event_types,
    check_secret,
    delivery_id,
    event_id,
    event_type,
    new_secret,
    progress_event_id,
    progress_step,
    signed_headers,
)
from tests.conftest import make_job

pytestmark = pytest.mark.unit


def resolver(*addresses):
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("10.0.0.7", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "private|reserved"),
        ("::ffff:127.0.0.1", "loopback"),  # an IPv4-mapped IPv6 address is judged as its IPv4 address
    ],
)
def test_the_guard_refuses_every_non_public_address(address, reason):
    with pytest.raises(UnsafeUrlError, match=reason):
        check_url("https://hooks.example/x", resolver=resolver(address))


def test_one_private_address_among_public_ones_is_enough_to_refuse():
    with pytest.raises(UnsafeUrlError, match=r"10\.1\.2\.3"):
        check_url("https://hooks.example/x", resolver=resolver("93.184.215.14", "10.1.2.3"))


def test_a_public_address_is_accepted_with_the_port_it_will_use():
    checked = check_url("https://hooks.example/in?x=1", resolver=resolver("93.184.215.14"))
    assert (checked.host, checked.port, checked.addresses) == ("hooks.example", 443, ("93.184.215.14",))
    assert pinned_url(checked) == "https://93.184.215.14:443/in?x=1"
    v6 = check_url("http://hooks.example:8080", resolver=resolver("2606:2800:220:1::1"))
    assert pinned_url(v6) == "http://[2606:2800:220:1::1]:8080/"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example/x", "https://"),
        ("file:///etc/passwd", "https://"),
        ("https://user:pw@hooks.example/", "credentials"),
        ("https:///nohost", "no host"),
        ("https://hooks.example:99999/", "port"),
        ("https://hooks.example/" + "a" * 2100, "longer"),
    ],
)
def test_the_guard_refuses_urls_that_are_not_plain_http(url, message):
    with pytest.raises(UnsafeUrlError, match=message):
        check_url(url, resolver=resolver("93.184.215.14"))


def test_allowed_networks_exempt_only_themselves():
    local = parse_networks(["127.0.0.0/8"])
    assert check_url("http://127.0.0.1:9000/", allowed_networks=local).addresses == ("127.0.0.1",)
    with pytest.raises(UnsafeUrlError, match="metadata"):
        check_url("http://169.254.169.254/", allowed_networks=local)


def test_a_host_that_does_not_resolve_is_refused():
    with pytest.raises(UnsafeUrlError, match="does not resolve"):
        check_url("https://no-such-host.invalid/")


def test_signatures_verify_with_the_standard_webhooks_library():
    secret = new_secret()
    body = '{"type":"job.completed","data":{"job_id":"j"}}'
    headers = signed_headers(secret, "evt_1", datetime.now(UTC), body)
    assert Webhook(secret).verify(body, headers) == {"type": "job.completed", "data": {"job_id": "j"}}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("j", "k"), headers)  # a tampered body
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)  # another endpoint's secret
    stale = signed_headers(secret, "evt_1", datetime.now(UTC) - timedelta(minutes=10), body)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, stale)  # a replayed delivery


def test_event_ids_name_the_transition_and_delivery_ids_the_endpoint_too():
    assert event_id("job", "COMPLETED", 1) == event_id("job", "COMPLETED", 1)
    assert len({event_id("job", "COMPLETED", 1), event_id("job", "FAILED", 1), event_id("job", "COMPLETED", 2)}) == 3
    assert delivery_id("wh_a", "evt_1") != delivery_id("wh_b", "evt_1")
    assert event_type("CANCELLED") == "job.cancelled"


def test_supplied_secrets_must_be_standard_webhooks_secrets():
    assert check_secret(new_secret()).startswith("whsec_")
    for bad, message in [("s3cret", "whsec_"), ("whsec_!!!", "base64"), ("whsec_c2hvcnQ=", "24 to 64")]:
        with pytest.raises(ValueError, match=message):
            check_secret(bad)


def test_the_api_offers_exactly_the_domains_event_types():
    from api.webhook_schemas import ALL_EVENTS
    from smmu.webhooks import WEBHOOK_EVENT_TYPES

    assert tuple(ALL_EVENTS) == WEBHOOK_EVENT_TYPES


def test_endpoints_subscribe_to_the_terminal_statuses_and_progress():
    from smmu.jobs import TERMINAL_STATUSES
    from smmu.webhooks import TERMINAL_EVENT_TYPES, WEBHOOK_EVENT_TYPES

    assert set(TERMINAL_EVENT_TYPES) == {event_type(status) for status in TERMINAL_STATUSES}
    assert set(WEBHOOK_EVENT_TYPES) == {*TERMINAL_EVENT_TYPES, "job.progress"}


# -- job.progress ---------------------------------------------------------------------------------------------
class ListQueue:
    """The webhooks queue as a list (the real one is SQS: tests/e2e/test_webhooks.py)."""

    def __init__(self, refuse: bool = False) -> None:
        self.sent: list[JobEvent] = []
        self.refuse = refuse

    def send(self, event: JobEvent) -> None:
        if self.refuse:
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessage")
        self.sent.append(event)


def _running_job(jobs: InMemoryJobStore) -> str:
    job_id = make_job(jobs, tenant_id="acme")
    jobs.transition(job_id, JobStatus.QUEUED)
    jobs.transition(job_id, JobStatus.RUNNING)
    return job_id


@pytest.mark.parametrize(
    ("percent", "step", "expected"),
    [(0.5, 10, 0), (9.99, 10, 0), (10, 10, 10), (15, 10, 10), (99.9, 10, 90), (100, 10, 100), (140, 10, 100),
     (-3, 10, 0), (49, 25, 25), (75, 25, 75)],
)  # fmt: skip
def test_progress_falls_in_whole_steps_and_100_is_its_own(percent, step, expected):
    assert progress_step(percent, step) == expected


def test_progress_event_ids_name_the_job_attempt_stage_and_step():
    ids = {
        progress_event_id(job, attempt, stage, step)
        for job in ("a", "b")
        for attempt in (1, 2)
        for stage in ("transcode", "transcribe")
        for step in (0, 10, 100)
    }
    assert len(ids) == 24  # every coordinate tells events apart
    assert progress_event_id("a", 1, "transcode", 10) == progress_event_id("a", 1, "transcode", 10)
    assert progress_event_id("a", 1, "transcode", 10) not in {event_id("a", s, 1) for s in JobStatus}


def test_a_stage_is_announced_once_per_step_with_its_attempt_time_and_percent():
    jobs, queue = InMemoryJobStore(), ListQueue()
    job_id = _running_job(jobs)
    notifier = ProgressNotifier(jobs, queue, step_percent=10)
    for percent in (5, 10, 15, 20, 25, 30, 95, 100):  # what the worker's own throttle lets through, 5 % steps
        assert notifier.report(job_id, "transcode", percent)
    assert not notifier.report(job_id, "transcode", 100)  # a retried report: the job refuses it, nothing sent
    assert notifier.report(job_id, "transcribe", 40)
    sent = [(e.progress.stage, e.progress.percent) for e in queue.sent]
    # The first report of each step: 0 (started), 10, 20, 30, 90, 100; then the other stage's own steps.
    assert sent == [("transcode", p) for p in (5, 10, 20, 30, 95, 100)] + [("transcribe", 40)]
    assert len({e.event_id for e in queue.sent}) == len(queue.sent)
    job = jobs.get(job_id)
    progress_times = [e.at for e in job.events if e.kind is EventKind.PROGRESS]
    first = queue.sent[0]
    assert (first.type, first.job_id, first.tenant_id, first.status, first.attempt) == (
        "job.progress", job_id, "acme", "RUNNING", 1
    )  # fmt: skip
    # Each event carries the time of the job's own progress event it announces (a receiver orders by it).
    assert [e.occurred_at for e in queue.sent] == [progress_times[i] for i in (0, 1, 3, 5, 6, 7, 8)]
    assert first.event_id == progress_event_id(job_id, 1, "transcode", 0)


def test_a_second_worker_process_reporting_the_same_step_publishes_the_same_event_id():
    jobs = InMemoryJobStore()
    job_id = _running_job(jobs)
    first, second = ListQueue(), ListQueue()
    ProgressNotifier(jobs, first, step_percent=10).report(job_id, "transcode", 20)
    # The task run again at the same attempt (its worker died): a higher report in the same step.
    ProgressNotifier(jobs, second, step_percent=10).report(job_id, "transcode", 25)
    assert first.sent[0].event_id == second.sent[0].event_id  # one delivery per endpoint (a conditional put)


def test_progress_is_not_announced_when_the_job_refuses_it_or_when_turned_off():
    jobs, queue = InMemoryJobStore(), ListQueue()
    job_id = _running_job(jobs)
    jobs.transition(job_id, JobStatus.COMPLETED)
    assert not ProgressNotifier(jobs, queue, step_percent=10).report(job_id, "transcode", 50)  # ended
    other = _running_job(jobs)
    assert ProgressNotifier(jobs, queue, step_percent=0).report(other, "transcode", 50)  # recorded, not announced
    assert queue.sent == []


def test_a_queue_that_refuses_progress_does_not_fail_the_report_and_the_step_is_tried_again():
    jobs, down = InMemoryJobStore(), ListQueue(refuse=True)
    job_id = _running_job(jobs)
    notifier = ProgressNotifier(jobs, down, step_percent=10)
    assert notifier.report(job_id, "transcode", 20)  # recorded in the job all the same
    down.refuse = False
    assert notifier.report(job_id, "transcode", 25)
    assert [e.progress.percent for e in down.sent] == [25]


def test_unknown_event_types_are_refused_by_name():
    assert check_event_types(["job.progress", "job.failed", "job.progress"]) == ["job.progress", "job.failed"]
    with pytest.raises(ValueError, match=r"'job\.exploded'"):
        check_event_types(["job.completed", "job.exploded"])
    with pytest.raises(ValueError, match=r"'x{64}…'"):
        check_event_types(["x" * 5000])  # named, but not echoed whole
