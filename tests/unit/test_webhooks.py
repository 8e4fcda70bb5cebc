"""Webhooks' pure parts: the SSRF guard, Standard Webhooks signing, event and delivery ids."""

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from lambdas.webhooks.sender import pinned_url
from smmu.ssrf import UnsafeUrlError, check_url, parse_networks
from smmu.webhooks import check_secret, delivery_id, event_id, event_type, new_secret, signed_headers

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


def test_endpoints_subscribe_to_exactly_the_terminal_statuses():
    from smmu.jobs import TERMINAL_STATUSES
    from smmu.webhooks import WEBHOOK_EVENT_TYPES

    assert set(WEBHOOK_EVENT_TYPES) == {event_type(status) for status in TERMINAL_STATUSES}
